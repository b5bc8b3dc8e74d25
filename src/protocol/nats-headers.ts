/**
 * Bounded reading of NATS message headers. natsrpc puts one header in NATS headers, the metadata
 * of a body chunk (`Natsrpc-Chunk`, protocol/body.ts); the other header line it reads is the
 * broker's status line (`NATS/1.0 503`, no responders). The `nats` package
 * parses a header block the first time `msg.headers` is read, in time quadratic in its number of
 * lines (a 1 MB block of short lines costs seconds of CPU), so nothing in natsrpc reads
 * `msg.headers`: every receiver checks the block's size here first, from the length the protocol
 * parser already recorded, and reads the status line itself from the raw bytes. A block over
 * {@link MAX_HEADER_BYTES} or {@link MAX_HEADER_LINES} makes the message dropped (replies, acks,
 * probe answers, control acks, heartbeats) or refused as `BAD_REQUEST` (requests). See
 * docs/protocol.md, *NATS headers*.
 */

/** Largest header block accepted, in bytes, status line and final blank line included. */
export const MAX_HEADER_BYTES = 4_096;
/** Most lines accepted in a header block, status line and final blank line included. */
export const MAX_HEADER_LINES = 64;

/** The parts of a `nats` (v2) message this module reads: the parsed frame's header length and the raw bytes. */
interface RawMsg {
  readonly _msg?: { readonly hdr?: number };
  readonly _rdata?: Uint8Array;
}

const LF = 0x0a;
const CR = 0x0d;
/** `NATS/1.0 ` */
const STATUS_PREFIX = [0x4e, 0x41, 0x54, 0x53, 0x2f, 0x31, 0x2e, 0x30, 0x20];

/** Length of the message's header block in bytes (0 when it has none), read without parsing it. */
export function headerBlockLength(msg: object): number {
  const hdr = (msg as RawMsg)._msg?.hdr;
  return typeof hdr === 'number' && hdr > 0 ? hdr : 0;
}

/**
 * `null` when the message has no header block or one within the limits, else the reason. Costs a
 * scan of at most {@link MAX_HEADER_BYTES} bytes, and nothing for a message without headers.
 */
export function checkHeaderBlock(msg: object): string | null {
  const length = headerBlockLength(msg);
  if (length === 0) return null;
  if (length > MAX_HEADER_BYTES) return `NATS header block of ${length} bytes exceeds ${MAX_HEADER_BYTES}`;
  const raw = (msg as RawMsg)._rdata;
  if (raw === undefined) return null;
  let lines = 0;
  for (let i = 0; i < length; i++) if (raw[i] === LF) lines++;
  if (lines > MAX_HEADER_LINES) return `NATS header block of ${lines} lines exceeds ${MAX_HEADER_LINES}`;
  return null;
}

/**
 * The status code of the header block's first line (`NATS/1.0 503` → 503), or 0 when there is no
 * header block or no code. Read only after {@link checkHeaderBlock} passed.
 */
export function headerStatus(msg: object): number {
  const length = headerBlockLength(msg);
  const raw = (msg as RawMsg)._rdata;
  if (length < STATUS_PREFIX.length + 3 || raw === undefined) return 0;
  for (let i = 0; i < STATUS_PREFIX.length; i++) if (raw[i] !== STATUS_PREFIX[i]) return 0;
  let code = 0;
  let i = STATUS_PREFIX.length;
  for (; i < STATUS_PREFIX.length + 3; i++) {
    const d = raw[i]! - 0x30;
    if (d < 0 || d > 9) return 0;
    code = code * 10 + d;
  }
  const after = raw[i];
  return after === CR || after === 0x20 ? code : 0;
}

/**
 * The value of the header line named exactly `name` (ASCII, compared byte for byte), leading spaces
 * dropped, as a string; null when the block has no such line, has it more than once, or the value
 * holds a byte outside printable ASCII. Read only after {@link checkHeaderBlock} passed (so at most
 * {@link MAX_HEADER_BYTES} are scanned).
 */
export function headerValue(msg: object, name: string): string | null {
  const length = headerBlockLength(msg);
  const raw = (msg as RawMsg)._rdata;
  if (length === 0 || raw === undefined) return null;
  let found: string | null = null;
  let start = -1; // the first line is the status line: lines are looked at from the second on
  for (let i = 0; i < length; i++) {
    if (raw[i] !== LF) continue;
    if (start >= 0 && matchesName(raw, start, i, name)) {
      if (found !== null) return null;
      found = lineValue(raw, start + name.length + 1, raw[i - 1] === CR ? i - 1 : i);
      if (found === null) return null;
    }
    start = i + 1;
  }
  return found;
}

/** Bytes `from .. end` as a string, leading spaces dropped; null if one is not printable ASCII. */
function lineValue(raw: Uint8Array, from: number, end: number): string | null {
  let p = from;
  while (p < end && raw[p] === 0x20) p++;
  let value = '';
  for (; p < end; p++) {
    const b = raw[p]!;
    if (b < 0x20 || b > 0x7e) return null;
    value += String.fromCharCode(b);
  }
  return value;
}

/** Whether bytes `start .. end` of `raw` begin with `name:`. */
function matchesName(raw: Uint8Array, start: number, end: number, name: string): boolean {
  if (end - start <= name.length || raw[start + name.length] !== 0x3a) return false;
  for (let i = 0; i < name.length; i++) if (raw[start + i] !== name.charCodeAt(i)) return false;
  return true;
}

/** The broker's "no responders" answer: status 503. */
export const NO_RESPONDERS_STATUS = 503;
