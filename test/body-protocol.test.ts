/**
 * The chunked-body messages on their own (docs/protocol.md, *Large bodies*): a body cut into chunks
 * from its parts reassembles byte for byte with its CRC-32 (zlib's) in the last chunk, chunks carry
 * views of the body (not copies) with their metadata in a header, and the assembly refuses gaps,
 * repeats, overruns and a wrong or missing checksum; the message checks bound what they accept.
 */
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import assert from 'node:assert/strict';
import { asBodyPull, BodyAssembly, BodySource, BODY_WINDOW_BYTES, chunkHeader, encodeBodyPull, parseChunk, type BodyChunk } from '../src/protocol/body.js';
import { decodeChecked, encodeBodyParts } from '../src/protocol/codec.js';
import { checkBody } from '../src/protocol/envelope.js';

const bytes = (n: number) => new Uint8Array(n).map((_, i) => (i * 7) & 0xff);

/** Sends `source` into a fresh assembly through encoded chunk messages, pulling as the assembly asks. */
function transfer(source: BodySource, chunkBytes: number): Uint8Array {
  const a = new BodyAssembly(source.descriptor);
  let crc: number | undefined;
  for (let next = a.nextPull(); next !== null; next = a.nextPull()) {
    for (const message of source.chunks(5, next[0], next[0] + next[1], chunkBytes, 'tok')) {
      const chunk = parseChunk(message.header, message.data);
      assert.ok(chunk !== null);
      assert.equal(chunk.reply, 'tok');
      assert.equal(a.add(chunk.o, chunk.d), null);
      crc = chunk.crc32 ?? crc;
    }
  }
  assert.ok(a.complete);
  return a.verified(crc);
}

test('a body made of parts reassembles byte for byte, whatever the chunk size, and decodes to its value', () => {
  const value = bytes(3 * 1024 * 1024 + 17);
  const parts = encodeBodyParts(value, 'payload');
  assert.equal(parts[1], value, 'a binary is not copied into its body');
  const sent = [...new BodySource(parts).chunks(1, 0, 3 * 65_536, 65_536)];
  assert.equal(sent[0]!.data.length, 65_536);
  assert.notEqual(sent[0]!.data.buffer, value.buffer, 'the first chunk spans the header and the binary: one copy');
  assert.equal(sent[1]!.data.buffer, value.buffer, 'later chunks are views of the binary, not copies');
  assert.equal(sent[1]!.data.byteOffset, 65_536 - 5);
  for (const size of [1_000, 65_536, 1_048_320]) {
    const body = transfer(new BodySource(parts), size);
    assert.deepEqual(decodeChecked(body), value);
  }
  const object = { list: Array.from({ length: 1_000 }, (_, i) => ({ i, s: 'x'.repeat(i % 50) })) };
  assert.deepEqual(decodeChecked(transfer(new BodySource(encodeBodyParts(object, 'payload')), 4_096)), object);
});

test('the assembly refuses gaps, repeats, overruns and a wrong or missing checksum', () => {
  const source = new BodySource([bytes(10_000)]);
  const chunks = [...source.chunks(1, 0, 10_000, 4_000)].map((m) => parseChunk(m.header, m.data)!);
  assert.equal(chunks.length, 3);
  assert.equal(chunks[0]!.crc32, undefined);
  assert.equal(chunks[2]!.crc32, crc32(bytes(10_000)), 'the last chunk carries the whole body\'s CRC-32');
  const fresh = () => {
    const a = new BodyAssembly({ bytes: 10_000 });
    a.nextPull();
    return a;
  };
  let a = fresh();
  assert.match(a.add(4_000, chunks[1]!.d)!, /gap, a repeat or a reordering/);
  a = fresh();
  assert.equal(a.add(0, chunks[0]!.d), null);
  assert.match(a.add(0, chunks[0]!.d)!, /gap, a repeat/);
  a = fresh();
  assert.match(a.add(0, bytes(10_001))!, /past the declared length/);
  const partial = new BodyAssembly({ bytes: 10_000 });
  assert.match(partial.add(0, bytes(10))!, /past the 0 bytes pulled/, 'nothing is taken before it was pulled');
  a = fresh();
  for (const c of chunks) assert.equal(a.add(c.o, c.d), null);
  assert.throws(() => a.verified(undefined), /carries no crc32/);
  a = fresh();
  for (const c of chunks) assert.equal(a.add(c.o, c.d), null);
  assert.throws(() => a.verified((chunks[2]!.crc32! + 1) >>> 0), /does not match its CRC-32/);
  // The same chunks with one byte changed: the CRC-32 no longer matches.
  a = fresh();
  const changed = chunks.map((c) => c.d.slice());
  changed[1]![123] = changed[1]![123]! ^ 0x01;
  chunks.forEach((c, i) => assert.equal(a.add(c.o, changed[i]!), null));
  assert.throws(() => a.verified(chunks[2]!.crc32), /does not match its CRC-32/);
});

test('pulls stay within one window, and the messages and descriptors are bounded', () => {
  const a = new BodyAssembly({ bytes: 3 * BODY_WINDOW_BYTES });
  assert.deepEqual(a.nextPull(), [0, BODY_WINDOW_BYTES]);
  assert.equal(a.nextPull(), null, 'no second pull while more than half the window is outstanding');
  assert.equal(asBodyPull(decodeChecked(encodeBodyPull(1, 0, BODY_WINDOW_BYTES + 1, { w: 'w1' }))), null);
  assert.equal(asBodyPull(decodeChecked(encodeBodyPull(0, 0, 10, { w: 'w1' }))), null, 'token 0');
  assert.equal(asBodyPull(decodeChecked(encodeBodyPull(1, 0, 10, { w: 'a.b' }))), null, 'a worker id that is no subject token');
  assert.equal(asBodyPull(decodeChecked(encodeBodyPull(1, 0, 10, { reply: 'x>' }))), null);
  assert.ok(asBodyPull(decodeChecked(encodeBodyPull(1, 0, 10, { reply: 'AbC-_1' }))) !== null);
  const d = new Uint8Array(1);
  assert.equal(chunkHeader(7, 1_048_320, 0xcbf43926, 'AbC'), 'v=1 t=7 o=1048320 crc32=3421780262 reply=AbC');
  assert.deepEqual(parseChunk('v=1 t=7 o=1048320 crc32=3421780262 reply=AbC', d), { t: 7, o: 1_048_320, d, crc32: 0xcbf43926, reply: 'AbC' } satisfies BodyChunk);
  assert.deepEqual(parseChunk('v=1 t=1 o=0', d), { t: 1, o: 0, d });
  assert.deepEqual(parseChunk('v=1 t=4294967295 o=9007199254740991 crc32=4294967295', d), { t: 2 ** 32 - 1, o: Number.MAX_SAFE_INTEGER, d, crc32: 2 ** 32 - 1 });
  for (const bad of [
    'v=1 t=1 o=0 reply=x>', // not a reply token
    'v=1 t=0 o=0', // token 0
    'v=1 t=4294967296 o=0',
    'v=1 t=1 o=9007199254740992',
    'v=1 t=1 o=-1',
    'v=1 t=01 o=0', // a leading zero
    'v=1 t=1 o=0 crc32=4294967296',
    'v=1 t=1 o=0 crc32=-1',
    'v=1 t=1 o=0 reply=a crc32=1', // out of order
    'v=1 o=0 t=1',
    'v=1 t=1 o=0 crc32=1 crc32=1',
    'v=1 t=1 o=0 x=1',
    'v=1  t=1 o=0', // two spaces
    'v=2 t=1 o=0',
    'v=1 t=1',
    '',
  ]) assert.equal(parseChunk(bad, d), null, bad);
  assert.equal(parseChunk('v=1 t=1 o=0', new Uint8Array(0)), null, 'an empty chunk');
  assert.equal(checkBody({ bytes: 0 }, false), 'body bytes must be 1..1073741824');
  assert.equal(checkBody({ bytes: 2 ** 31 }, false), 'body bytes must be 1..1073741824');
  assert.equal(checkBody({ bytes: 10 }, false), null);
  assert.match(checkBody({ bytes: 10, t: 1 }, true)!, /worker/);
  assert.equal(checkBody({ bytes: 10, t: 1, w: 'w-1' }, true), null);
});
