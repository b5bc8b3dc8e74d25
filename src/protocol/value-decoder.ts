/**
 * Decoding of values that `checkMsgpack` has accepted, with the integer rule of the wire contract:
 * an integer arrives as a number when it is safe (within ±(2^53 - 1)) and as a bigint when it is
 * not. The guard notes whether a message holds such an integer; only then is it decoded with
 * bigints and the safe ones turned back into numbers, so ordinary messages pay nothing for it.
 */
import { Decoder } from '@msgpack/msgpack';
import { sawWideInteger } from './msgpack-guard.js';

const decoder = new Decoder();
const wideDecoder = new Decoder({ useBigInt64: true });

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Decodes checked bytes (of the message the guard checked last). May throw what the decoder throws. */
export function decodeValue(bytes: Uint8Array): unknown {
  if (!sawWideInteger()) return decoder.decode(bytes);
  return narrow(wideDecoder.decode(bytes));
}

/**
 * A view of `bytes` that is a plain Uint8Array: binaries decoded from a Buffer would be Buffers
 * (they are views of the message), and the contract says they arrive as Uint8Array.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Safe bigints back to numbers, in place; depth is bounded by the guard. */
function narrow(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v;
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array || v instanceof Date) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = narrow(v[i]);
  } else {
    const o = v as Record<string, unknown>;
    for (const key in o) o[key] = narrow(o[key]);
  }
  return v;
}
