/**
 * The bodies' CRC-32 (src/protocol/crc32.ts): @node-rs/crc32's native binding where it loads, and
 * zlib's where it does not, give the same values, computed whole or continued chunk by chunk
 * across any boundaries, over views at any offset; a binding that fails to load (given a loader
 * that throws, and in a child process whose binding really fails) falls back to zlib's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { crc32, pickCrc32, zlibCrc32, type Crc32 } from '../src/protocol/crc32.js';
import { ROOT } from './helpers/processes.js';

/** The platforms @node-rs/crc32 publishes a prebuilt binary for that CI and developers use. */
const PREBUILT = ['linux', 'darwin', 'win32'].includes(process.platform) && ['x64', 'arm64'].includes(process.arch);

/** `f` over `data` continued chunk by chunk, the chunk lengths taken in turn from `sizes`. */
function chunked(f: Crc32, data: Uint8Array, sizes: readonly number[]): number {
  let crc = 0;
  for (let o = 0, i = 0; o < data.length; o += sizes[i++ % sizes.length]!) crc = f(data.subarray(o, o + sizes[i % sizes.length]!), crc);
  return crc;
}

test('the native CRC-32 loads here and gives zlib\'s values, whole and continued across chunk boundaries, over views', { skip: !PREBUILT && 'no prebuilt @node-rs/crc32 binary for this platform' }, () => {
  const native = pickCrc32();
  assert.notEqual(native, zlibCrc32, '@node-rs/crc32 loaded (its platform package is installed)');
  assert.equal(native(new TextEncoder().encode('123456789'), 0), 0xcbf43926, 'the IEEE check value');
  // A view at an odd offset into a larger buffer, as a chunk's payload is.
  const buffer = randomBytes(3 * 1024 * 1024 + 11);
  const data = new Uint8Array(buffer.buffer, buffer.byteOffset + 3, buffer.length - 8);
  const whole = zlibCrc32(data, 0);
  assert.equal(native(data, 0), whole);
  for (const sizes of [[1_048_320], [1, 7, 65_537, 1_048_576, 3], [4_096, 0, 13]]) {
    assert.equal(chunked(native, data, sizes), whole, `native, chunks of ${sizes.join(', ')}`);
    assert.equal(chunked(zlibCrc32, data, sizes), whole, `zlib, chunks of ${sizes.join(', ')}`);
  }
  // From 1: zlib's crc32 of a zero-length Buffer with no memory behind it is 0, not the CRC it
  // continues (zlib's null-buffer case); body chunks are never empty, so bodies never see it.
  for (let n = 1; n < 64; n++) {
    const small = randomBytes(n);
    assert.equal(native(small, 0xdeadbeef), zlibCrc32(small, 0xdeadbeef), `${n} bytes continued from a CRC`);
  }
});

test('a binding that does not load, or loads without crc32, falls back to zlib\'s, which agrees with the one in use', () => {
  assert.equal(pickCrc32(() => { throw new Error('Cannot find native binding'); }), zlibCrc32);
  assert.equal(pickCrc32(() => ({})), zlibCrc32);
  assert.equal(pickCrc32(() => null), zlibCrc32);
  const fallback = pickCrc32(() => { throw new Error('no binding'); });
  const data = randomBytes(2 * 1024 * 1024 + 5);
  assert.equal(chunked(fallback, data, [1_048_320, 17]), chunked(crc32, data, [999_999]), 'the fallback and the chosen implementation agree');
  assert.equal(crc32(data, 0), zlibCrc32(data, 0));
});

test('in a process where the binding really fails to load, bodies are checksummed by zlib\'s, with the same values', async () => {
  // NAPI_RS_NATIVE_LIBRARY_PATH is napi-rs's loader's own switch: it loads only that file, here a missing one, and throws.
  const script = `
    const m = await import('./src/protocol/crc32.ts');
    const { BodyAssembly, BodySource, parseChunk } = await import('./src/protocol/body.ts');
    const body = new Uint8Array(3_000_000).map((_, i) => (i * 7) & 0xff);
    const assembly = new BodyAssembly({ bytes: body.length });
    assembly.nextPull();
    let crc;
    for (const message of new BodySource([body]).chunks(1, 0, body.length, 999_999)) {
      const chunk = parseChunk(message.header, message.data);
      if (assembly.add(chunk.o, chunk.d) !== null) throw new Error('refused');
      crc = chunk.crc32 ?? crc;
    }
    assembly.verified(crc);
    process.stdout.write(JSON.stringify([m.pickCrc32() === m.zlibCrc32, crc === m.zlibCrc32(body, 0), m.crc32(Buffer.from('123456789'), 0)]));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    timeout: 30_000,
    env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: '/nonexistent/crc32.node' },
  });
  assert.deepEqual(JSON.parse(stdout), [true, true, 0xcbf43926], '[zlib chosen, a body sent and verified with it, the check value]');
});
