/**
 * The hot-path encoding of request and ok-reply envelopes, and the parsing of their top level.
 *
 * The generic msgpack encoder walks each envelope as an unknown object (keys counted, each key
 * string encoded again) and copies its output once more; the generic decoder builds every value
 * through a general state machine. Envelopes have a handful of known keys, so here the keys are
 * precomputed bytes, numbers and ASCII strings are written directly, a binary payload is copied
 * once, and output comes from a shared slab instead of a new ArrayBuffer per message. Anything
 * else (unknown keys, non-ASCII ids, an unusual number) falls back to the generic codec, and the
 * output is byte for byte what the generic encoder writes (test/codec.test.ts checks both).
 *
 * Parsing assumes bytes that `checkMsgpack` has accepted: structure and lengths are proven, so
 * reads need no bounds checks.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { RequestEnvelope } from './envelope.js';

const generic = new Encoder({ ignoreUndefined: true });
/** A second encoder, so two values can be encoded without copying the first out. */
const secondary = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();
const textDecoder = new TextDecoder();

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

const keyBytes = (k: string): Uint8Array => generic.encode(k);
const K_V = keyBytes('v');
const K_ID = keyBytes('id');
const K_METHOD = keyBytes('method');
const K_BUDGET = keyBytes('budgetMs');
const K_ATTEMPT = keyBytes('attempt');
const K_SENT_AT = keyBytes('sentAt');
const K_HEADERS = keyBytes('headers');
const K_PAYLOAD = keyBytes('payload');
const K_ACK = keyBytes('ack');
const K_CANCELLABLE = keyBytes('cancellable');
const K_OK = keyBytes('ok');
const K_RESULT = keyBytes('result');

const REQUEST_KEYS: Record<string, true> = {
  v: true, id: true, method: true, budgetMs: true, attempt: true, sentAt: true, headers: true, payload: true, ack: true, cancellable: true,
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

const binHeaderSize = (n: number): number => (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);

function writeBin(buf: Uint8Array, p: number, bin: Uint8Array): number {
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

/** A value's encoding: a binary payload is written as is, anything else through an encoder. */
function valueSize(value: unknown, encoder: Encoder): { bin: Uint8Array | null; encoded: Uint8Array | null; size: number } {
  if (value instanceof Uint8Array) return { bin: value, encoded: null, size: binHeaderSize(value.length) + value.length };
  const encoded = encoder.encodeSharedRef(value);
  return { bin: null, encoded, size: encoded.length };
}

/** Encodes a request envelope; the result is the caller's to keep. */
export function encodeRequestEnvelope(e: RequestEnvelope): Uint8Array {
  for (const k in e) if (REQUEST_KEYS[k] !== true) return generic.encode(e);
  const idSize = typeof e.id === 'string' ? asciiStrSize(e.id) : -1;
  const methodSize = typeof e.method === 'string' ? asciiStrSize(e.method) : -1;
  const budgetSize = uintSize(e.budgetMs);
  const attemptSize = uintSize(e.attempt);
  const hasSentAt = e.sentAt !== undefined;
  const sentAtSize = hasSentAt ? uintSize(e.sentAt) : 0;
  const ackSize = flagSize(e.ack, K_ACK);
  const cancellableSize = flagSize(e.cancellable, K_CANCELLABLE);
  if (e.v !== 1 || idSize < 0 || methodSize < 0 || budgetSize < 0 || attemptSize < 0 || sentAtSize < 0 || ackSize < 0 || cancellableSize < 0) {
    return generic.encode(e);
  }
  const hasHeaders = e.headers !== undefined;
  const hasPayload = e.payload !== undefined;
  const headers = hasHeaders ? secondary.encodeSharedRef(e.headers) : null;
  const payload = hasPayload ? valueSize(e.payload, generic) : null;
  const count = 5 + (hasSentAt ? 1 : 0) + (hasHeaders ? 1 : 0) + (hasPayload ? 1 : 0) + (ackSize > 0 ? 1 : 0) + (cancellableSize > 0 ? 1 : 0);
  const size =
    1 + K_V.length + 1 + K_ID.length + idSize + K_METHOD.length + methodSize + K_BUDGET.length + budgetSize +
    K_ATTEMPT.length + attemptSize + (hasSentAt ? K_SENT_AT.length + sentAtSize : 0) +
    (headers !== null ? K_HEADERS.length + headers.length : 0) + (payload !== null ? K_PAYLOAD.length + payload.size : 0) +
    ackSize + cancellableSize;
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
  return buf;
}

/**
 * Encodes `{ v: 1, id, ok: true, result }`; the result is the caller's to keep. An undefined result
 * is written as nil: the key is always there, as the wire contract says.
 */
export function encodeOkReply(id: string, result: unknown): Uint8Array {
  if (result === undefined) result = null;
  const idSize = asciiStrSize(id);
  if (idSize < 0) return generic.encode({ v: 1, id, ok: true, result });
  const value = valueSize(result, generic);
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

// ---- parsing --------------------------------------------------------------------------------

/**
 * End position of the value `value()` last read. Positions are locals inside the loops (a
 * module-level variable costs a check on every access); only this result crosses calls.
 */
let END = 0;

function u16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

/** Position after the value at `p` (of proven structure). */
function skip(b: Uint8Array, p: number): number {
  let remaining = 1;
  while (remaining > 0) {
    remaining--;
    const t = b[p++]!;
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) continue;
    if (t <= 0x8f) remaining += (t & 0x0f) * 2;
    else if (t <= 0x9f) remaining += t & 0x0f;
    else if (t <= 0xbf) p += t & 0x1f;
    else {
      switch (t) {
        case 0xc4: case 0xd9: p += 1 + b[p]!; break;
        case 0xc5: case 0xda: p += 2 + u16(b, p); break;
        case 0xc6: case 0xdb: p += 4 + u32(b, p); break;
        case 0xc7: p += 2 + b[p]!; break;
        case 0xc8: p += 3 + u16(b, p); break;
        case 0xc9: p += 5 + u32(b, p); break;
        case 0xca: p += 4; break;
        case 0xcb: p += 8; break;
        case 0xcc: case 0xd0: p += 1; break;
        case 0xcd: case 0xd1: p += 2; break;
        case 0xce: case 0xd2: p += 4; break;
        case 0xcf: case 0xd3: p += 8; break;
        case 0xd4: p += 2; break;
        case 0xd5: p += 3; break;
        case 0xd6: p += 5; break;
        case 0xd7: p += 9; break;
        case 0xd8: p += 17; break;
        case 0xdc: remaining += u16(b, p); p += 2; break;
        case 0xdd: remaining += u32(b, p); p += 4; break;
        case 0xde: remaining += u16(b, p) * 2; p += 2; break;
        case 0xdf: remaining += u32(b, p) * 2; p += 4; break;
      }
    }
  }
  return p;
}

function str(b: Uint8Array, start: number, n: number): string {
  const end = start + n;
  END = end;
  if (n > 8) return textDecoder.decode(b.subarray(start, end));
  let s = '';
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c >= 0x80) return textDecoder.decode(b.subarray(start, end));
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Reads the value at `p`, sets END past it: scalars directly, a binary as a view, anything else
 * through the generic decoder.
 */
function value(b: Uint8Array, p: number): unknown {
  const t = b[p]!;
  if (t <= 0x7f) {
    END = p + 1;
    return t;
  }
  if (t >= 0xe0) {
    END = p + 1;
    return t - 0x100;
  }
  if (t >= 0xa0 && t <= 0xbf) return str(b, p + 1, t & 0x1f);
  switch (t) {
    case 0xc0: END = p + 1; return null;
    case 0xc2: END = p + 1; return false;
    case 0xc3: END = p + 1; return true;
    case 0xcc: END = p + 2; return b[p + 1]!;
    case 0xcd: END = p + 3; return u16(b, p + 1);
    case 0xce: END = p + 5; return u32(b, p + 1);
    case 0xcf: END = p + 9; return u32(b, p + 1) * 0x100000000 + u32(b, p + 5); // safe range proven by the guard
    case 0xd9: return str(b, p + 2, b[p + 1]!);
    case 0xda: return str(b, p + 3, u16(b, p + 1));
    case 0xc4: { const n = b[p + 1]!; END = p + 2 + n; return b.subarray(p + 2, END); }
    case 0xc5: { const n = u16(b, p + 1); END = p + 3 + n; return b.subarray(p + 3, END); }
    case 0xc6: { const n = u32(b, p + 1); END = p + 5 + n; return b.subarray(p + 5, END); }
  }
  const end = skip(b, p);
  END = end;
  return decoder.decode(b.subarray(p, end));
}

/**
 * Method names repeat from one request to the next: the last one decoded is reused when its
 * bytes (type byte included) are the same.
 */
let lastMethodBytes = new Uint8Array(0);
let lastMethod: unknown = undefined;

function methodValue(b: Uint8Array, p: number): unknown {
  const cached = lastMethodBytes;
  const n = cached.length;
  if (n > 0) {
    let i = 0;
    while (i < n && b[p + i] === cached[i]) i++;
    if (i === n) {
      END = p + n;
      return lastMethod;
    }
  }
  const method = value(b, p);
  if (typeof method === 'string' && END - p <= 66) {
    lastMethodBytes = b.slice(p, END);
    lastMethod = method;
  }
  return method;
}

/** True when the key at `p` is `key` (its msgpack bytes, a fixstr). */
function keyIs(b: Uint8Array, p: number, key: Uint8Array): boolean {
  const n = key.length;
  for (let i = 0; i < n; i++) if (b[p + i] !== key[i]) return false;
  return true;
}

export interface ParsedRequest {
  v: unknown;
  id: unknown;
  method: unknown;
  budgetMs: unknown;
  attempt: unknown;
  sentAt: unknown;
  headers: unknown;
  payload: unknown;
  ack: unknown;
  cancellable: unknown;
}

/**
 * Parses a request envelope from checked bytes; `undefined` when it is not a small map of the
 * known keys (the caller then uses the generic decoder). May throw what the decoder throws.
 */
export function parseRequest(b: Uint8Array): ParsedRequest | undefined {
  const h = b[0]!;
  if ((h & 0xf0) !== 0x80) return undefined;
  let v, id, method, budgetMs, attempt, sentAt, headers, payload, ack, cancellable;
  let p = 1;
  for (let i = h & 0x0f; i > 0; i--) {
    // Keys are tried in the order this codec writes them, so each matches at the first compare.
    if (keyIs(b, p, K_V)) v = value(b, p + K_V.length);
    else if (keyIs(b, p, K_ID)) id = value(b, p + K_ID.length);
    else if (keyIs(b, p, K_METHOD)) method = methodValue(b, p + K_METHOD.length);
    else if (keyIs(b, p, K_BUDGET)) budgetMs = value(b, p + K_BUDGET.length);
    else if (keyIs(b, p, K_ATTEMPT)) attempt = value(b, p + K_ATTEMPT.length);
    else if (keyIs(b, p, K_SENT_AT)) sentAt = value(b, p + K_SENT_AT.length);
    else if (keyIs(b, p, K_HEADERS)) headers = value(b, p + K_HEADERS.length);
    else if (keyIs(b, p, K_PAYLOAD)) payload = value(b, p + K_PAYLOAD.length);
    else if (keyIs(b, p, K_ACK)) ack = value(b, p + K_ACK.length);
    else if (keyIs(b, p, K_CANCELLABLE)) cancellable = value(b, p + K_CANCELLABLE.length);
    else return undefined;
    p = END;
  }
  // One literal of fixed shape (absent keys are undefined), cheaper than growing an object.
  return { v, id, method, budgetMs, attempt, sentAt, headers, payload, ack, cancellable };
}

export interface ParsedReply {
  v: unknown;
  id: unknown;
  ok: unknown;
  result: unknown;
  error: unknown;
}

const K_ERROR = keyBytes('error');

/** Parses a reply envelope from checked bytes; `undefined` when the generic decoder must. */
export function parseReply(b: Uint8Array): ParsedReply | undefined {
  const h = b[0]!;
  if ((h & 0xf0) !== 0x80) return undefined;
  let v, id, ok, result, error;
  let hasResult = false;
  let hasError = false;
  let p = 1;
  for (let i = h & 0x0f; i > 0; i--) {
    if (keyIs(b, p, K_V)) v = value(b, p + K_V.length);
    else if (keyIs(b, p, K_ID)) id = value(b, p + K_ID.length);
    else if (keyIs(b, p, K_OK)) ok = value(b, p + K_OK.length);
    else if (keyIs(b, p, K_RESULT)) {
      result = value(b, p + K_RESULT.length);
      hasResult = true;
    } else if (keyIs(b, p, K_ERROR)) {
      error = value(b, p + K_ERROR.length);
      hasError = true;
    } else return undefined;
    p = END;
  }
  if (hasResult === hasError) return undefined; // both or neither: the generic decoder keeps the shape
  return hasResult ? ({ v, id, ok, result } as ParsedReply) : ({ v, id, ok, error } as ParsedReply);
}
