/**
 * The hot-path encoding of request and ok-reply envelopes.
 *
 * The generic msgpack encoder walks each envelope as an unknown object (keys counted, each key
 * string encoded again) and copies its output once more. Envelopes have a handful of known keys,
 * so here the keys are precomputed bytes, numbers and ASCII strings are written directly, a binary
 * payload is copied once, and output comes from a shared slab instead of a new ArrayBuffer per
 * message. Anything else (unknown keys, non-ASCII ids, an unusual number) falls back to the
 * generic encoder, and the output is byte for byte what the generic encoder writes
 * (test/codec.test.ts checks both).
 */
import { Encoder } from '@msgpack/msgpack';
import type { RequestEnvelope } from './envelope.js';
import { checkValue } from './value-check.js';
import { K_ACK, K_ATTEMPT, K_BUDGET, K_CANCELLABLE, K_LATE_ACK, K_HEADERS, K_ID, K_METHOD, K_OK, K_PAYLOAD, K_RESULT, K_SENT_AT, K_V } from './envelope-keys.js';

const generic = new Encoder({ ignoreUndefined: true });
/** A second encoder, so two values can be encoded without copying the first out. */
const secondary = new Encoder({ ignoreUndefined: true });
/**
 * For values that hold a bigint: it writes them as int64/uint64. (It also writes integers beyond
 * 32 bits as float64, which arrive as the same number; so only such values use it.)
 */
const wide = new Encoder({ ignoreUndefined: true, useBigInt64: true });

/**
 * Encodes an envelope the generic way after checking the value it carries (`root` names it);
 * throws `RpcError('BAD_REQUEST')` naming the path when that value cannot travel unchanged.
 */
export function encodeEnvelopeGeneric(envelope: object, value: unknown, root: string): Uint8Array {
  return (checkValue(value, root) ? wide : generic).encode(envelope);
}

// ---- output buffers -------------------------------------------------------------------------

const SMALL_SLAB_BYTES = 16 * 1024;
const MAX_SMALL = 2 * 1024;
const LARGE_SLAB_BYTES = 1024 * 1024;
const MAX_LARGE = 64 * 1024;

/** Bump allocation from one slab; a full slab is left to the views that still point into it. */
class Slab {
  #buffer: ArrayBuffer;
  #pos = 0;
  constructor(readonly bytes: number) {
    this.#buffer = new ArrayBuffer(bytes);
  }
  take(n: number): Uint8Array {
    if (this.#pos + n > this.bytes) {
      this.#buffer = new ArrayBuffer(this.bytes);
      this.#pos = 0;
    }
    const out = new Uint8Array(this.#buffer, this.#pos, n);
    this.#pos += (n + 7) & ~7;
    return out;
  }
}
const small = new Slab(SMALL_SLAB_BYTES);
const large = new Slab(LARGE_SLAB_BYTES);

/**
 * A byte array of `n` bytes for one message. Up to 64 KB they are views into shared slabs: a new
 * ArrayBuffer per message (zero-filled, tracked as external memory) costs more than encoding it.
 * A view kept alive keeps its slab alive (16 KB, or 1 MB for messages over 2 KB).
 */
function alloc(n: number): Uint8Array {
  if (n <= MAX_SMALL) return small.take(n);
  if (n <= MAX_LARGE) return large.take(n);
  return new Uint8Array(n);
}

// ---- writing --------------------------------------------------------------------------------

const REQUEST_KEYS: Record<string, true> = {
  v: true, id: true, method: true, budgetMs: true, attempt: true, sentAt: true, headers: true, payload: true, ack: true, cancellable: true, lateAck: true,
};

/** Size of an optional boolean field (key included): 0 when absent, -1 when not a boolean. */
function flagSize(x: unknown, key: Uint8Array): number {
  if (x === undefined) return 0;
  return typeof x === 'boolean' ? key.length + 1 : -1;
}

/** Byte length of a msgpack string for an ASCII `s`, or -1 when `s` is not short ASCII. */
function asciiStrSize(s: string): number {
  const n = s.length;
  if (n > 0xff) return -1;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return -1;
  return (n < 32 ? 1 : 2) + n;
}

function writeAscii(buf: Uint8Array, p: number, s: string): number {
  const n = s.length;
  if (n < 32) buf[p++] = 0xa0 | n;
  else {
    buf[p++] = 0xd9;
    buf[p++] = n;
  }
  for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
  return p;
}

/** Size of a non-negative safe integer in msgpack, or -1 when it is not one. */
function uintSize(x: unknown): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) return -1;
  return x < 0x80 ? 1 : x < 0x100 ? 2 : x < 0x10000 ? 3 : x < 0x100000000 ? 5 : 9;
}

function writeUint(buf: Uint8Array, p: number, x: number): number {
  if (x < 0x80) {
    buf[p++] = x;
  } else if (x < 0x100) {
    buf[p++] = 0xcc;
    buf[p++] = x;
  } else if (x < 0x10000) {
    buf[p++] = 0xcd;
    buf[p++] = x >>> 8;
    buf[p++] = x & 0xff;
  } else if (x < 0x100000000) {
    buf[p++] = 0xce;
    p = writeU32(buf, p, x);
  } else {
    buf[p++] = 0xcf;
    p = writeU32(buf, p, Math.floor(x / 0x100000000));
    p = writeU32(buf, p, x >>> 0);
  }
  return p;
}

function writeU32(buf: Uint8Array, p: number, x: number): number {
  buf[p++] = x >>> 24;
  buf[p++] = (x >>> 16) & 0xff;
  buf[p++] = (x >>> 8) & 0xff;
  buf[p++] = x & 0xff;
  return p;
}

/** Bytes of the msgpack header of a binary of `n` bytes. */
export const binHeaderSize = (n: number): number => (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);

/** Writes `bin` as a msgpack binary at `p` (room checked by the caller); returns the position after it. */
export function writeBin(buf: Uint8Array, p: number, bin: Uint8Array): number {
  const n = bin.length;
  if (n < 0x100) {
    buf[p++] = 0xc4;
    buf[p++] = n;
  } else if (n < 0x10000) {
    buf[p++] = 0xc5;
    buf[p++] = n >>> 8;
    buf[p++] = n & 0xff;
  } else {
    buf[p++] = 0xc6;
    p = writeU32(buf, p, n);
  }
  buf.set(bin, p);
  return p + n;
}

function put(buf: Uint8Array, p: number, bytes: Uint8Array): number {
  if (bytes.length < 16) {
    for (let i = 0; i < bytes.length; i++) buf[p + i] = bytes[i]!;
  } else {
    buf.set(bytes, p);
  }
  return p + bytes.length;
}

/**
 * A value's encoding: a binary payload is written as is, anything else is checked (see
 * value-check.ts) and goes through an encoder.
 */
function valueSize(value: unknown, root: string): { bin: Uint8Array | null; encoded: Uint8Array | null; size: number } {
  if (value instanceof Uint8Array) return { bin: value, encoded: null, size: binHeaderSize(value.length) + value.length };
  const encoded = (checkValue(value, root) ? wide : generic).encodeSharedRef(value);
  return { bin: null, encoded, size: encoded.length };
}

/**
 * A value's msgpack bytes as the parts of a body sent in chunks: a binary as its header and the
 * binary itself (not copied), anything else checked and encoded once.
 */
export function encodeBodyParts(value: unknown, root: string): Uint8Array[] {
  if (value instanceof Uint8Array) {
    const n = value.length;
    const header = n < 0x100 ? new Uint8Array([0xc4, n]) : n < 0x10000 ? new Uint8Array([0xc5, n >>> 8, n & 0xff]) : new Uint8Array(5);
    if (n >= 0x10000) {
      header[0] = 0xc6;
      writeU32(header, 1, n);
    }
    return [header, value];
  }
  return [(checkValue(value, root) ? wide : generic).encode(value)];
}

/** Encodes a request envelope; the result is the caller's to keep. */
export function encodeRequestEnvelope(e: RequestEnvelope): Uint8Array {
  for (const k in e) if (REQUEST_KEYS[k] !== true) return encodeEnvelopeGeneric(e, e.payload, 'payload');
  const idSize = typeof e.id === 'string' ? asciiStrSize(e.id) : -1;
  const methodSize = typeof e.method === 'string' ? asciiStrSize(e.method) : -1;
  const budgetSize = uintSize(e.budgetMs);
  const attemptSize = uintSize(e.attempt);
  const hasSentAt = e.sentAt !== undefined;
  const sentAtSize = hasSentAt ? uintSize(e.sentAt) : 0;
  const ackSize = flagSize(e.ack, K_ACK);
  const cancellableSize = flagSize(e.cancellable, K_CANCELLABLE);
  const lateAckSize = flagSize(e.lateAck, K_LATE_ACK);
  if (e.v !== 1 || idSize < 0 || methodSize < 0 || budgetSize < 0 || attemptSize < 0 || sentAtSize < 0 || ackSize < 0 || cancellableSize < 0 || lateAckSize < 0) {
    return encodeEnvelopeGeneric(e, e.payload, 'payload');
  }
  const hasHeaders = e.headers !== undefined;
  const hasPayload = e.payload !== undefined;
  const headers = hasHeaders ? secondary.encodeSharedRef(e.headers) : null;
  const payload = hasPayload ? valueSize(e.payload, 'payload') : null;
  const count = 5 + (hasSentAt ? 1 : 0) + (hasHeaders ? 1 : 0) + (hasPayload ? 1 : 0) + (ackSize > 0 ? 1 : 0) + (cancellableSize > 0 ? 1 : 0) + (lateAckSize > 0 ? 1 : 0);
  const size =
    1 + K_V.length + 1 + K_ID.length + idSize + K_METHOD.length + methodSize + K_BUDGET.length + budgetSize +
    K_ATTEMPT.length + attemptSize + (hasSentAt ? K_SENT_AT.length + sentAtSize : 0) +
    (headers !== null ? K_HEADERS.length + headers.length : 0) + (payload !== null ? K_PAYLOAD.length + payload.size : 0) +
    ackSize + cancellableSize + lateAckSize;
  const buf = alloc(size);
  let p = 0;
  buf[p++] = 0x80 | count;
  p = put(buf, p, K_V);
  buf[p++] = 1;
  p = writeAscii(buf, put(buf, p, K_ID), e.id);
  p = writeAscii(buf, put(buf, p, K_METHOD), e.method);
  p = writeUint(buf, put(buf, p, K_BUDGET), e.budgetMs);
  p = writeUint(buf, put(buf, p, K_ATTEMPT), e.attempt);
  if (hasSentAt) p = writeUint(buf, put(buf, p, K_SENT_AT), e.sentAt!);
  if (headers !== null) p = put(buf, put(buf, p, K_HEADERS), headers);
  if (payload !== null) {
    p = put(buf, p, K_PAYLOAD);
    p = payload.bin !== null ? writeBin(buf, p, payload.bin) : put(buf, p, payload.encoded!);
  }
  if (ackSize > 0) {
    p = put(buf, p, K_ACK);
    buf[p++] = e.ack ? 0xc3 : 0xc2;
  }
  if (cancellableSize > 0) {
    p = put(buf, p, K_CANCELLABLE);
    buf[p++] = e.cancellable ? 0xc3 : 0xc2;
  }
  if (lateAckSize > 0) {
    p = put(buf, p, K_LATE_ACK);
    buf[p++] = e.lateAck ? 0xc3 : 0xc2;
  }
  return buf;
}

/**
 * Encodes `{ v: 1, id, ok: true, result }`; the result is the caller's to keep. An undefined result
 * is written as nil: the key is always there, as the wire contract says.
 */
export function encodeOkReply(id: string, result: unknown): Uint8Array {
  if (result === undefined) result = null;
  const idSize = asciiStrSize(id);
  if (idSize < 0) return encodeEnvelopeGeneric({ v: 1, id, ok: true, result }, result, 'result');
  const value = valueSize(result, 'result');
  const buf = alloc(1 + K_V.length + 1 + K_ID.length + idSize + K_OK.length + 1 + K_RESULT.length + value.size);
  let p = 0;
  buf[p++] = 0x84;
  p = put(buf, p, K_V);
  buf[p++] = 1;
  p = writeAscii(buf, put(buf, p, K_ID), id);
  p = put(buf, p, K_OK);
  buf[p++] = 0xc3;
  p = put(buf, p, K_RESULT);
  if (value.bin !== null) writeBin(buf, p, value.bin);
  else put(buf, p, value.encoded!);
  return buf;
}
