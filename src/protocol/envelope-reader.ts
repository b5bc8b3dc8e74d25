/**
 * The hot-path parsing of the top level of request and reply envelopes.
 *
 * It assumes bytes that `checkMsgpack` has accepted: structure and lengths are proven, so reads
 * need no bounds checks. Known keys are compared in place with their precomputed bytes, scalars
 * and binaries are read directly (binaries as views), and any nested value goes to the generic
 * decoder. Anything unusual makes it return `undefined`, and the caller decodes generically.
 */
import { decodeValue } from './value-decoder.js';
import { K_ACK, K_ATTEMPT, K_BUDGET, K_CANCELLABLE, K_LATE_ACK, K_ERROR, K_HEADERS, K_ID, K_METHOD, K_OK, K_PAYLOAD, K_RESULT, K_SENT_AT, K_V } from './envelope-keys.js';

const textDecoder = new TextDecoder();

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
    case 0xcf:
      if (u32(b, p + 1) > 0x1fffff) break; // beyond the safe range: a bigint, decoded below
      END = p + 9;
      return u32(b, p + 1) * 0x100000000 + u32(b, p + 5);
    case 0xd9: return str(b, p + 2, b[p + 1]!);
    case 0xda: return str(b, p + 3, u16(b, p + 1));
    case 0xc4: { const n = b[p + 1]!; END = p + 2 + n; return b.subarray(p + 2, END); }
    case 0xc5: { const n = u16(b, p + 1); END = p + 3 + n; return b.subarray(p + 3, END); }
    case 0xc6: { const n = u32(b, p + 1); END = p + 5 + n; return b.subarray(p + 5, END); }
  }
  const end = skip(b, p);
  END = end;
  return decodeValue(b.subarray(p, end));
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
  lateAck: unknown;
}

/**
 * Parses a request envelope from checked bytes; `undefined` when it is not a small map of the
 * known keys (the caller then uses the generic decoder). May throw what the decoder throws.
 */
export function parseRequest(b: Uint8Array): ParsedRequest | undefined {
  const h = b[0]!;
  if ((h & 0xf0) !== 0x80) return undefined;
  let v, id, method, budgetMs, attempt, sentAt, headers, payload, ack, cancellable, lateAck;
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
    else if (keyIs(b, p, K_LATE_ACK)) lateAck = value(b, p + K_LATE_ACK.length);
    else return undefined;
    p = END;
  }
  // One literal of fixed shape (absent keys are undefined), cheaper than growing an object.
  return { v, id, method, budgetMs, attempt, sentAt, headers, payload, ack, cancellable, lateAck };
}

export interface ParsedReply {
  v: unknown;
  id: unknown;
  ok: unknown;
  result: unknown;
  error: unknown;
}

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
