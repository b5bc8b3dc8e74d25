/**
 * A structural check of msgpack bytes, run before they are decoded.
 *
 * The msgpack decoder has no depth limit, allocates arrays and maps from declared headers and
 * turns integers above 2^53 into inexact numbers without a word. This single pass over the bytes
 * (it skips string and binary bodies, so it costs little even for large payloads) proves that the
 * value is complete, has no trailing garbage, stays within the depth and element limits, uses no
 * extension type but the standard timestamp (-1) in one of its three forms with nanoseconds below
 * 10^9 and seconds a JavaScript Date can hold, and holds only int64 integers. It also notes whether
 * an integer lies outside the safe range (see {@link sawWideInteger}): such a value is decoded with
 * bigints. Whatever passes decodes into at most `maxElements` values built from bytes that are
 * really there.
 */

export interface MsgpackLimits {
  /** Maximum nesting of arrays and maps. */
  readonly maxDepth: number;
  /** Maximum number of array items plus map keys and values, over the whole value. */
  readonly maxElements: number;
}

export const DEFAULT_MAX_DEPTH = 32;
export const DEFAULT_MAX_ELEMENTS = 100_000;

export const DEFAULT_MSGPACK_LIMITS: MsgpackLimits = {
  maxDepth: DEFAULT_MAX_DEPTH,
  maxElements: DEFAULT_MAX_ELEMENTS,
};

const TIMESTAMP_EXT_TYPE = 0xff; // -1 as an unsigned byte
/** Seconds either side of 1970 that a Date holds (8.64e15 ms). */
const MAX_DATE_SECONDS = 8_640_000_000_000;

/** Whether the last value that passed {@link checkMsgpack} holds an integer beyond ±(2^53 - 1). */
let wide = false;

/**
 * True when the value the last successful {@link checkMsgpack} passed holds an integer outside the
 * safe range: it must be decoded with bigints (see value-decoder.ts). Read it right after the check.
 */
export function sawWideInteger(): boolean {
  return wide;
}

/**
 * Returns `null` when `bytes` hold exactly one well-formed msgpack value within `limits`,
 * otherwise a short reason.
 */
export function checkMsgpack(bytes: Uint8Array, limits: MsgpackLimits = DEFAULT_MSGPACK_LIMITS): string | null {
  const len = bytes.length;
  if (len === 0) return 'empty message';
  const stack = STACK;
  stack.length = 0;
  let remaining = 1; // values still expected at the current level
  let elements = 0;
  let pos = 0;
  wide = false;

  while (true) {
    while (remaining === 0 && stack.length > 0) remaining = stack.pop()!;
    if (remaining === 0) return pos === len ? null : 'trailing bytes after the value';
    if (pos >= len) return 'truncated message';
    const b = bytes[pos++]!;
    remaining--;

    let items = -1; // >= 0 for a container
    let skip = 0; // body bytes to skip for a scalar
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      continue;
    } else if (b <= 0x8f) {
      items = (b & 0x0f) * 2;
    } else if (b <= 0x9f) {
      items = b & 0x0f;
    } else if (b <= 0xbf) {
      skip = b & 0x1f;
    } else {
      const need = HEADER_BYTES[b - 0xc0]!;
      if (need < 0) return `invalid type byte 0x${b.toString(16)}`;
      if (pos + need > len) return 'truncated message';
      switch (b) {
        case 0xc4: case 0xd9: skip = bytes[pos]!; break;
        case 0xc5: case 0xda: skip = u16(bytes, pos); break;
        case 0xc6: case 0xdb: skip = u32(bytes, pos); break;
        case 0xc7: case 0xc8: case 0xc9: {
          const size = b === 0xc7 ? bytes[pos]! : b === 0xc8 ? u16(bytes, pos) : u32(bytes, pos);
          if (bytes[pos + need - 1] !== TIMESTAMP_EXT_TYPE) return 'unsupported extension type';
          // The 96-bit timestamp: ext 8, 12 bytes of nanoseconds (uint32) and seconds (int64).
          if (b !== 0xc7 || size !== 12) return 'invalid timestamp';
          if (pos + need + 12 > len) return 'truncated message';
          const at = pos + need;
          const hi = u32(bytes, at + 4) | 0;
          const seconds = hi * 0x100000000 + u32(bytes, at + 8);
          if (u32(bytes, at) >= 1e9 || hi > 0x7ffff || hi < -0x80000 || Math.abs(seconds) > MAX_DATE_SECONDS) return 'invalid timestamp';
          skip = size;
          break;
        }
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
          if (bytes[pos] !== TIMESTAMP_EXT_TYPE) return 'unsupported extension type';
          // Timestamp 32 (fixext 4, seconds) or 64 (fixext 8, 30-bit nanoseconds and 34-bit seconds).
          if (b !== 0xd6 && b !== 0xd7) return 'invalid timestamp';
          skip = 1 << (b - 0xd4);
          if (b === 0xd7 && pos + 1 + skip <= len && u32(bytes, pos + 1) >>> 2 >= 1e9) return 'invalid timestamp';
          break;
        case 0xcf: {
          const hi = u32(bytes, pos);
          if (hi > 0x7fffffff) return 'integer outside int64';
          if (hi > 0x1fffff) wide = true;
          break;
        }
        case 0xd3: {
          const hi = u32(bytes, pos) | 0;
          if (hi > 0x1fffff || hi < -0x200000 || (hi === -0x200000 && u32(bytes, pos + 4) === 0)) wide = true;
          break;
        }
        case 0xdc: items = u16(bytes, pos); break;
        case 0xdd: items = u32(bytes, pos); break;
        case 0xde: items = u16(bytes, pos) * 2; break;
        case 0xdf: items = u32(bytes, pos) * 2; break;
      }
      pos += need;
    }

    if (items >= 0) {
      elements += items;
      if (elements > limits.maxElements) return `more than ${limits.maxElements} elements`;
      if (items > len - pos) return 'truncated message'; // every item takes at least one byte
      if (items > 0) {
        if (stack.length >= limits.maxDepth) return `nesting deeper than ${limits.maxDepth}`;
        stack.push(remaining);
        remaining = items;
      }
    } else {
      if (skip > len - pos) return 'truncated message';
      pos += skip;
    }
  }
}

/** Reused by every check (checks are synchronous): no allocation per message. */
const STACK: number[] = [];

function u16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

/**
 * Bytes that follow the type byte for 0xc0..0xdf before any body (-1: invalid type byte).
 * For fixed-size scalars this is the whole value; for str/bin/ext it is the length (plus the
 * ext type byte); for arrays and maps it is the count.
 */
const HEADER_BYTES: readonly number[] = [
  0, -1, 0, 0, // c0 nil, c1 never used, c2 false, c3 true
  1, 2, 4, // c4-c6 bin 8/16/32
  2, 3, 5, // c7-c9 ext 8/16/32 (length + type)
  4, 8, // ca float32, cb float64
  1, 2, 4, 8, // cc-cf uint
  1, 2, 4, 8, // d0-d3 int
  1, 1, 1, 1, 1, // d4-d8 fixext (type byte; body skipped separately)
  1, 2, 4, // d9-db str 8/16/32
  2, 4, // dc-dd array 16/32
  2, 4, // de-df map 16/32
];
