/**
 * Bodies larger than the broker's max_payload: a request's payload or a reply's result travels as
 * its msgpack bytes (the *body*), cut into chunks, between the caller and the one worker holding
 * the call. The receiver pulls: it names the offset it has and how many bytes more it takes (at
 * most one window), and the sender sends chunks up to there. The receiver assembles the body into
 * one buffer of the declared length, allocated once after the length was checked against its own
 * maximum, checksums it chunk by chunk and verifies length and CRC-32 (carried by the last chunk,
 * so the sender computes it as it sends instead of before) before anything decodes it.
 * docs/protocol.md, *Large bodies*, is the normative description; keep the two in step.
 */
import { crc32 } from 'node:zlib';
import { Encoder } from '@msgpack/msgpack';
import { isBoundedInt as isInt, isRecord, PROTOCOL_VERSION, type BodyDescriptor } from './envelope.js';

/** nats-server's default max_payload, assumed until the server's INFO says otherwise. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Bytes a receiver lets a sender run ahead of what it has (one pull). */
export const BODY_WINDOW_BYTES = 8 * 1024 * 1024;
/** Room left in each chunk message for its map and keys: a chunk carries max_payload minus this. */
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
  v: typeof PROTOCOL_VERSION;
  t: number;
  o: number;
  d: Uint8Array;
  /** The CRC-32 (IEEE, as zlib's) of the whole body, an unsigned 32-bit int; on the last chunk. */
  crc32?: number;
  /** On `<prefix>._body.<service>.<w>`: the random last token of the call's reply subject. */
  reply?: string;
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

/** The chunk when `value` is one, else `null`. */
export function asBodyChunk(value: unknown): BodyChunk | null {
  if (!isRecord(value) || value.v !== PROTOCOL_VERSION || !(value.d instanceof Uint8Array) || value.d.length === 0) return null;
  if (!isInt(value.t, 1, MAX_BODY_TOKEN - 1) || !isInt(value.o, 0, Number.MAX_SAFE_INTEGER) || badReply(value.reply)) return null;
  if (value.crc32 !== undefined && value.crc32 !== null && !isInt(value.crc32, 0, MAX_CRC32)) return null;
  return value as unknown as BodyChunk;
}

const encoder = new Encoder({ ignoreUndefined: true });

export function encodeBodyPull(t: number, o: number, n: number, who: { w: string } | { reply: string }): Uint8Array {
  return encoder.encode({ v: PROTOCOL_VERSION, t, o, n, ...who });
}

/** The msgpack key `reply`. */
const REPLY_KEY = new Uint8Array([0xa5, 0x72, 0x65, 0x70, 0x6c, 0x79]);
/** The msgpack key `crc32` and a uint 32 header. */
const CRC32_KEY = new Uint8Array([0xa5, 0x63, 0x72, 0x63, 0x33, 0x32, 0xce]);
const CRC32_BYTES = 4;
const MAX_CRC32 = 2 ** 32 - 1;

function writeUint(buf: Uint8Array, p: number, x: number): number {
  buf[p++] = 0xcf; // always uint64: fixed size, any offset
  const hi = Math.floor(x / 0x100000000);
  const lo = x >>> 0;
  buf[p++] = hi >>> 24;
  buf[p++] = (hi >>> 16) & 0xff;
  buf[p++] = (hi >>> 8) & 0xff;
  buf[p++] = hi & 0xff;
  buf[p++] = lo >>> 24;
  buf[p++] = (lo >>> 16) & 0xff;
  buf[p++] = (lo >>> 8) & 0xff;
  buf[p++] = lo & 0xff;
  return p;
}

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
 * `{ v: 1, t, o, d, crc32?, reply? }` as msgpack, the body's bytes `from .. from + length` copied
 * in once; `crc32` (the whole body's) and `reply` (ASCII, at most 128 characters) are written last.
 * The message is allocated uninitialised (no zero fill of a megabyte per chunk): every byte of it
 * is written below, which the final length check enforces.
 */
function encodeChunk(t: number, o: number, parts: readonly Uint8Array[], length: number, crc: number | undefined, reply: string | undefined): Uint8Array {
  const replyBytes = reply === undefined ? 0 : REPLY_KEY.length + 2 + reply.length;
  const crcBytes = crc === undefined ? 0 : CRC32_KEY.length + CRC32_BYTES;
  const out = Buffer.allocUnsafe(1 + 2 + 1 + 2 + 9 + 2 + 9 + 2 + 5 + length + crcBytes + replyBytes);
  let p = 0;
  out[p++] = 0x84 + (crc === undefined ? 0 : 1) + (reply === undefined ? 0 : 1);
  out[p++] = 0xa1;
  out[p++] = 0x76; // "v"
  out[p++] = PROTOCOL_VERSION;
  out[p++] = 0xa1;
  out[p++] = 0x74; // "t"
  p = writeUint(out, p, t);
  out[p++] = 0xa1;
  out[p++] = 0x6f; // "o"
  p = writeUint(out, p, o);
  out[p++] = 0xa1;
  out[p++] = 0x64; // "d"
  out[p++] = 0xc6;
  out[p++] = length >>> 24;
  out[p++] = (length >>> 16) & 0xff;
  out[p++] = (length >>> 8) & 0xff;
  out[p++] = length & 0xff;
  for (const slice of slices(parts, o, o + length)) {
    out.set(slice, p);
    p += slice.length;
  }
  if (crc !== undefined) {
    out.set(CRC32_KEY, p);
    p = out.writeUInt32BE(crc, p + CRC32_KEY.length);
  }
  if (reply !== undefined) {
    out.set(REPLY_KEY, p);
    p += REPLY_KEY.length;
    out[p++] = 0xd9; // str 8
    out[p++] = reply.length;
    for (let i = 0; i < reply.length; i++) out[p++] = reply.charCodeAt(i);
  }
  if (p !== out.length) throw new Error(`chunk message of ${out.length} bytes has ${p} written`);
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
   * The chunk messages of transfer `t` that cover `from .. to`, each at most `chunkBytes` of body;
   * those to a worker carry the call's `reply` token. A transfer asks for its ranges in order.
   */
  *chunks(t: number, from: number, to: number, chunkBytes: number, reply?: string): Generator<Uint8Array> {
    for (let o = from; o < to; o += chunkBytes) {
      const end = Math.min(to, o + chunkBytes);
      if (end > this.#crcTo) {
        for (const slice of slices(this.#parts, this.#crcTo, end)) this.#crc = crc32(slice, this.#crc);
        this.#crcTo = end;
      }
      yield encodeChunk(t, o, this.#parts, end - o, end === this.bytes ? this.#crc : undefined, reply);
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
  pulledTo = 0;

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
    if (offset + data.length > this.pulledTo) return `chunk ends at ${offset + data.length}, past the ${this.pulledTo} bytes pulled`;
    this.#buffer.set(data, offset);
    this.#crc = crc32(data, this.#crc);
    this.#received += data.length;
    return null;
  }

  /** The next pull, when the sender has used half of the last one: `[offset, bytes]`, else null. */
  nextPull(): [number, number] | null {
    const total = this.#buffer.length;
    if (this.pulledTo >= total || this.pulledTo - this.#received > BODY_WINDOW_BYTES / 2) return null;
    const n = Math.min(BODY_WINDOW_BYTES, total - this.#received);
    this.pulledTo = this.#received + n;
    return [this.#received, n];
  }

  /** The whole body once its CRC-32 matches `crc` (the last chunk's); else throws the reason. */
  verified(crc: number | undefined): Uint8Array {
    if (crc === undefined || crc === null) throw new Error('the last chunk carries no crc32');
    if (this.#crc !== crc) throw new Error('the body does not match its CRC-32');
    return this.#buffer;
  }
}
