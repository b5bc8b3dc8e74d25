/**
 * Bodies larger than the broker's max_payload: a request's payload or a reply's result travels as
 * its msgpack bytes (the *body*), cut into chunks, between the caller and the one worker holding
 * the call. The receiver pulls: it names the offset it has and how many bytes more it takes (at
 * most one window), and the sender sends chunks up to there. The receiver assembles the body into
 * one buffer of the declared length, allocated once after the length was checked against its own
 * maximum, checksums it chunk by chunk and verifies length and CRC-32 (carried by the last chunk,
 * so the sender computes it as it sends instead of before; src/protocol/crc32.ts computes it) before
 * anything decodes it.
 * docs/protocol.md, *Large bodies*, is the normative description; keep the two in step.
 */
import { Encoder } from '@msgpack/msgpack';
import { crc32 } from './crc32.js';
import { isBoundedInt as isInt, isRecord, PROTOCOL_VERSION, type BodyDescriptor } from './envelope.js';
import { headerValue } from './nats-headers.js';

/** nats-server's default max_payload, assumed until the server's INFO says otherwise. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
/**
 * Bytes a receiver lets a sender run ahead of what it has (one pull); it pulls again when half of it
 * is still to come. 16 MiB rather than 8: on a loaded machine the sender, woken by each pull, needs
 * the slack (docs/benchmarks.md, *Large bodies*).
 */
export const BODY_WINDOW_BYTES = 16 * 1024 * 1024;
/** Room left in each chunk message for its header block: a chunk carries max_payload minus this many body bytes. */
export const BODY_CHUNK_OVERHEAD = 256;
/** A transfer with no chunk (receiver) or no pull (sender) for this long is dropped and its buffer freed. */
export const BODY_STALL_TIMEOUT_MS = 10_000;
/** Transfer tokens are positive integers below this. */
export const MAX_BODY_TOKEN = 2 ** 32;

/** Receiver to sender: "I have `o` bytes of transfer `t`; send up to `n` more" (`n` 0: abandon it). */
export interface BodyPull {
  v: typeof PROTOCOL_VERSION;
  t: number;
  o: number;
  n: number;
  /** The worker pulling a request body (its chunk subject is `<prefix>._body.<service>.<w>`). */
  w?: string;
  /** On `<prefix>._body.<service>.<w>`: the random last token of the call's reply subject, which only its caller knows. */
  reply?: string;
}

/** Sender to receiver: bytes `o .. o + d.length` of transfer `t`; the last one carries the body's CRC-32. */
export interface BodyChunk {
  t: number;
  o: number;
  /** The body's bytes: the message's payload. */
  d: Uint8Array;
  /** The CRC-32 (IEEE, as zlib's) of the whole body, an unsigned 32-bit int; on the last chunk. */
  crc32?: number;
  /** On `<prefix>._body.<service>.<w>`: the random last token of the call's reply subject. */
  reply?: string;
}

/**
 * The NATS header that makes a message a chunk: its value holds the chunk's metadata (see
 * {@link chunkHeader}), its payload is the body's bytes, sent as they are (no envelope to copy them into).
 */
export const BODY_CHUNK_HEADER = 'Natsrpc-Chunk';

/** A chunk to publish: the value of its {@link BODY_CHUNK_HEADER} header and its payload. */
export interface OutgoingChunk {
  readonly header: string;
  readonly data: Uint8Array;
}

const WORKER_ID = /^[A-Za-z0-9_-]{1,128}$/;
const REPLY_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

function badReply(value: unknown): boolean {
  return value !== undefined && value !== null && (typeof value !== 'string' || !REPLY_TOKEN.test(value));
}

/** The pull when `value` (decoded, checked msgpack) is one, else `null`. */
export function asBodyPull(value: unknown): BodyPull | null {
  if (!isRecord(value) || value.v !== PROTOCOL_VERSION || value.d !== undefined) return null;
  if (!isInt(value.t, 1, MAX_BODY_TOKEN - 1) || !isInt(value.o, 0, Number.MAX_SAFE_INTEGER) || !isInt(value.n, 0, BODY_WINDOW_BYTES)) return null;
  if (value.w !== undefined && value.w !== null && (typeof value.w !== 'string' || !WORKER_ID.test(value.w))) return null;
  if (badReply(value.reply)) return null;
  return value as unknown as BodyPull;
}

/** A decimal integer `0 .. max` without sign or leading zero, else -1. */
function decimal(text: string, max: number): number {
  if (text.length === 0 || text.length > 16 || (text.length > 1 && text.charCodeAt(0) === 0x30)) return -1;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n <= max ? n : -1;
}

/**
 * The value of a chunk's {@link BODY_CHUNK_HEADER}: `v=1 t=<t> o=<o>`, then ` crc32=<crc>` on the
 * last chunk and ` reply=<token>` on chunks to a worker, in that order, integers in decimal.
 */
export function chunkHeader(t: number, o: number, crc: number | undefined, reply: string | undefined): string {
  let value = `v=${PROTOCOL_VERSION} t=${t} o=${o}`;
  if (crc !== undefined) value += ` crc32=${crc}`;
  if (reply !== undefined) value += ` reply=${reply}`;
  return value;
}

/** The chunk whose {@link BODY_CHUNK_HEADER} is `header` and payload `d`, when both are one's, else `null`. */
export function parseChunk(header: string, d: Uint8Array): BodyChunk | null {
  if (d.length === 0) return null;
  const fields = header.split(' ');
  if (fields.length < 3 || fields.length > 5 || fields[0] !== `v=${PROTOCOL_VERSION}`) return null;
  const t = fields[1]!.startsWith('t=') ? decimal(fields[1]!.slice(2), MAX_BODY_TOKEN - 1) : -1;
  const o = fields[2]!.startsWith('o=') ? decimal(fields[2]!.slice(2), Number.MAX_SAFE_INTEGER) : -1;
  if (t < 1 || o < 0) return null;
  const chunk: BodyChunk = { t, o, d };
  let i = 3;
  if (i < fields.length && fields[i]!.startsWith('crc32=')) {
    const crc = decimal(fields[i++]!.slice(6), MAX_CRC32);
    if (crc < 0) return null;
    chunk.crc32 = crc;
  }
  if (i < fields.length && fields[i]!.startsWith('reply=')) {
    const reply = fields[i++]!.slice(6);
    if (!REPLY_TOKEN.test(reply)) return null;
    chunk.reply = reply;
  }
  return i === fields.length ? chunk : null;
}

/** The chunk `msg` (a `nats` message whose header block passed checkHeaderBlock) carries, else `null`. */
export function readBodyChunk(msg: { readonly data: Uint8Array }): BodyChunk | null {
  const header = headerValue(msg, BODY_CHUNK_HEADER);
  return header === null ? null : parseChunk(header, msg.data);
}

const encoder = new Encoder({ ignoreUndefined: true });

export function encodeBodyPull(t: number, o: number, n: number, who: { w: string } | { reply: string }): Uint8Array {
  return encoder.encode({ v: PROTOCOL_VERSION, t, o, n, ...who });
}

const MAX_CRC32 = 2 ** 32 - 1;

/** The slices of `parts` that cover bytes `from .. to` of their concatenation. */
function* slices(parts: readonly Uint8Array[], from: number, to: number): Generator<Uint8Array> {
  let start = 0;
  for (const part of parts) {
    const end = start + part.length;
    if (end > from && start < to) yield part.subarray(Math.max(0, from - start), Math.min(part.length, to - start));
    if (end >= to) return;
    start = end;
  }
}

/**
 * Bytes `from .. to` of the concatenation of `parts`: a view of the part that holds them all, or,
 * for a range across parts (a binary's first chunk: its msgpack header and its first bytes), a copy.
 */
function range(parts: readonly Uint8Array[], from: number, to: number): Uint8Array {
  let start = 0;
  for (const part of parts) {
    const end = start + part.length;
    if (from >= start && to <= end) return part.subarray(from - start, to - start);
    if (end > from) break;
    start = end;
  }
  const out = new Uint8Array(to - from);
  let p = 0;
  for (const slice of slices(parts, from, to)) {
    out.set(slice, p);
    p += slice.length;
  }
  return out;
}

/**
 * A body to send, as the parts it is made of (a binary's msgpack header and the binary itself, so
 * a `Uint8Array` is never copied whole), and its chunks on demand. Its CRC-32 is computed as the
 * chunks are first made, in order (every transfer sends from offset 0 up), and goes in the last.
 */
export class BodySource {
  readonly bytes: number;
  readonly #parts: readonly Uint8Array[];
  /** The CRC-32 of the bytes before `#crcTo`. */
  #crc = 0;
  #crcTo = 0;
  constructor(parts: readonly Uint8Array[]) {
    this.#parts = parts;
    this.bytes = parts.reduce((n, part) => n + part.length, 0);
  }

  get descriptor(): BodyDescriptor {
    return { bytes: this.bytes };
  }

  /**
   * The chunks of transfer `t` that cover `from .. to`, each at most `chunkBytes` of body, their
   * payloads views of the body's parts; those to a worker carry the call's `reply` token. A
   * transfer asks for its ranges in order.
   */
  *chunks(t: number, from: number, to: number, chunkBytes: number, reply?: string): Generator<OutgoingChunk> {
    for (let o = from; o < to; o += chunkBytes) {
      const end = Math.min(to, o + chunkBytes);
      const data = range(this.#parts, o, end);
      if (end > this.#crcTo) {
        this.#crc = crc32(o === this.#crcTo ? data : data.subarray(this.#crcTo - o), this.#crc);
        this.#crcTo = end;
      }
      yield { header: chunkHeader(t, o, end === this.bytes ? this.#crc : undefined, reply), data };
    }
  }
}
/** Body bytes per chunk for a broker whose max_payload is `maxPayload`. */
export function chunkBytes(maxPayload: number): number {
  return Math.max(1, maxPayload - BODY_CHUNK_OVERHEAD);
}

/**
 * A body being received: one buffer of the declared length, filled in order, checksummed as it fills.
 * `add` refuses a chunk that is not the next one (a gap, a repeat, a reordering) or that runs past
 * the declared length; the caller of `add` ends the transfer on any refusal.
 */
export class BodyAssembly {
  readonly #buffer: Uint8Array;
  #crc = 0;
  #received = 0;
  /** Bytes the sender may send before the next pull (the end of the last pull). */
  #pulledTo = 0;

  constructor(descriptor: BodyDescriptor) {
    this.#buffer = new Uint8Array(descriptor.bytes);
  }

  /** The declared length (the buffer's). */
  get declared(): number {
    return this.#buffer.length;
  }

  get received(): number {
    return this.#received;
  }

  get complete(): boolean {
    return this.#received === this.#buffer.length;
  }

  /** Copies the chunk in; returns why it is refused, or null. */
  add(offset: number, data: Uint8Array): string | null {
    if (offset !== this.#received) return `chunk at offset ${offset} when ${this.#received} bytes had arrived (a gap, a repeat or a reordering)`;
    if (offset + data.length > this.#buffer.length) return `chunk ends at ${offset + data.length}, past the declared length ${this.#buffer.length}`;
    if (offset + data.length > this.#pulledTo) return `chunk ends at ${offset + data.length}, past the ${this.#pulledTo} bytes pulled`;
    this.#buffer.set(data, offset);
    this.#crc = crc32(data, this.#crc);
    this.#received += data.length;
    return null;
  }

  /** The next pull, when the sender has used half of the last one: `[offset, bytes]`, else null. */
  nextPull(): [number, number] | null {
    const total = this.#buffer.length;
    if (this.#pulledTo >= total || this.#pulledTo - this.#received > BODY_WINDOW_BYTES / 2) return null;
    const n = Math.min(BODY_WINDOW_BYTES, total - this.#received);
    this.#pulledTo = this.#received + n;
    return [this.#received, n];
  }

  /** The whole body once its CRC-32 matches `crc` (the last chunk's); else throws the reason. */
  verified(crc: number | undefined): Uint8Array {
    if (crc === undefined || crc === null) throw new Error('the last chunk carries no crc32');
    if (this.#crc !== crc) throw new Error('the body does not match its CRC-32');
    return this.#buffer;
  }
}
