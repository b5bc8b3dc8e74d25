/**
 * The CRC-32 of bodies (IEEE polynomial, zlib's value: the wire's checksum, docs/protocol.md,
 * *Large bodies*). Computed by @node-rs/crc32's native binding (SIMD, carry-less multiply) when it
 * loads, else by `zlib.crc32`: Node 20's zlib computes it without its SIMD path, about 2-3 times
 * slower per 50 MB body, on the sender and on the receiver. Both give the same values; the
 * fallback covers a platform with no prebuilt binary or a binding that fails to load.
 * The binding is loaded on the first checksum, not at import (a process that never moves a large
 * body does not pay the few milliseconds of loading it); after that each call goes straight to
 * the chosen function.
 */
import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

/** The CRC-32 of `data` continued from `crc`, the CRC-32 of the bytes before it (0 for none). */
export type Crc32 = (data: Uint8Array, crc: number) => number;

export { zlibCrc32 };

const require = createRequire(import.meta.url);

function requireNative(): unknown {
  return require('@node-rs/crc32');
}

/** The native CRC-32 when `load` gives a module with one (it throws when the binding does not load), else zlib's. */
export function pickCrc32(load: () => unknown = requireNative): Crc32 {
  try {
    const native = (load() as { crc32?: unknown } | null)?.crc32;
    if (typeof native === 'function') return native as Crc32;
  } catch {
    // No prebuilt binary for this platform, or it failed to load: zlib's gives the same values.
  }
  return zlibCrc32;
}

let chosen: Crc32 = (data, crc) => {
  chosen = pickCrc32();
  return chosen(data, crc);
};

/** The CRC-32 of `data` continued from `crc` (0 to start); `data` may be any view, it is not copied. */
export function crc32(data: Uint8Array, crc: number): number {
  return chosen(data, crc);
}
