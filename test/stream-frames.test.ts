/**
 * Item frames as the worker builds them (docs/protocol.md, *Streams*): items encoded straight into
 * the frame's buffer give the bytes of `encode({ v, id, w, s, items })`, whatever the items (binaries
 * at every msgpack header boundary, strings, maps, nil), the number of items (array header
 * boundaries) or the length of the ids; a frame handed out is never written again; the header of a
 * binary item frame is read back exactly and refused when off its rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeChecked, encode } from '../src/protocol/codec.js';
import { asItemFrame, binaryItemHeader, encodeEmptyItemFrame, ItemFrameWriter, MAX_FRAME_ITEMS, parseBinaryItemHeader } from '../src/protocol/stream.js';

const binary = (n: number) => new Uint8Array(n).map((_, i) => (i * 13) & 0xff);

function frameOf(w: ItemFrameWriter, first: number, items: unknown[]): Uint8Array {
  let bytes = 0;
  for (const item of items) {
    const n = w.stage(item);
    assert.equal(n, encode(item).length, 'stage returns the encoded size');
    w.append();
    bytes += n;
  }
  assert.equal(w.items, items.length);
  assert.equal(w.itemBytes, bytes);
  return w.frame(first);
}

test('a frame written item by item is the msgpack of the whole frame, for any item', () => {
  const items: unknown[] = [
    binary(0), binary(1), binary(255), binary(256), binary(65_535), binary(65_536), binary(200_000),
    Buffer.from('a buffer'), 'text', 'é'.repeat(40), { i: 1, nested: { a: [1, 2, 3] } }, null, undefined, 2 ** 40, -1, true, [binary(3)],
  ];
  const w = new ItemFrameWriter('request-1', 'worker_A-1');
  const frame = frameOf(w, 7, items);
  assert.deepEqual(frame, encode({ v: 1, id: 'request-1', w: 'worker_A-1', s: 7, items }));
  const decoded = asItemFrame(decodeChecked(frame));
  assert.ok(decoded !== null);
  assert.equal(decoded.s, 7);
  assert.deepEqual(decoded.items[3], binary(256));
  assert.deepEqual(decoded.items[10], { i: 1, nested: { a: [1, 2, 3] } });
});

test('frame heads at every boundary: item counts, stream indexes, id lengths; empty frames', () => {
  for (const id of ['x', 'i'.repeat(31), 'i'.repeat(32), 'i'.repeat(128), 'ü'.repeat(128)]) {
    const w = new ItemFrameWriter(id, 'w'.repeat(128));
    for (const s of [0, 127, 128, 65_536, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      assert.deepEqual(w.frame(s), encode({ v: 1, id, w: 'w'.repeat(128), s, items: [] }), `empty frame, s ${s}`);
      assert.deepEqual(encodeEmptyItemFrame(id, 'w'.repeat(128), s), w.frame(s), `probe frame, s ${s}`);
    }
    for (const n of [1, 15, 16, MAX_FRAME_ITEMS, 65_536]) {
      const items = Array.from({ length: n }, (_, i) => i);
      assert.deepEqual(frameOf(w, n, items), encode({ v: 1, id, w: 'w'.repeat(128), s: n, items }), `${n} items`);
    }
  }
});

test('a frame handed out is left alone: later items go to a new buffer, large or small', () => {
  const w = new ItemFrameWriter('id', 'w');
  const first = frameOf(w, 0, [binary(10_000), binary(10)]);
  const copy = first.slice();
  const second = frameOf(w, 2, [binary(50), binary(300_000), 'x']);
  const third = frameOf(w, 5, [binary(1)]);
  assert.deepEqual(first, copy);
  assert.notEqual(first.buffer, second.buffer);
  assert.notEqual(second.buffer, third.buffer);
  assert.deepEqual(second, encode({ v: 1, id: 'id', w: 'w', s: 2, items: [binary(50), binary(300_000), 'x'] }));
  assert.deepEqual(third, encode({ v: 1, id: 'id', w: 'w', s: 5, items: [binary(1)] }));
});

test('an item that cannot be encoded throws at stage and leaves the frame as it was', () => {
  const w = new ItemFrameWriter('id', 'w');
  w.stage('ok');
  w.append();
  assert.throws(() => w.stage(10n ** 30n));
  assert.throws(() => w.stage(Symbol('no')));
  assert.deepEqual(w.frame(0), encode({ v: 1, id: 'id', w: 'w', s: 0, items: ['ok'] }));
});

test('binary item frame headers: written and read back; anything off the rules is refused', () => {
  for (const [s, w] of [[0, 'w'], [7, 'worker_A-1'], [Number.MAX_SAFE_INTEGER, 'x'.repeat(128)]] as const) {
    assert.deepEqual(parseBinaryItemHeader(binaryItemHeader(s, w)), { s, w });
  }
  assert.equal(binaryItemHeader(12, 'wk'), 'v=1 s=12 w=wk');
  for (const bad of [
    '', 'v=1 s=1', 'v=1 w=a s=1', 'v=2 s=1 w=a', 'v=1 s=01 w=a', 'v=1 s=-1 w=a', 'v=1 s=1.5 w=a', 'v=1 s=9007199254740992 w=a',
    'v=1 s=1 w=', 'v=1 s=1 w=a.b', `v=1 s=1 w=${'x'.repeat(129)}`, 'v=1 s=1 w=a x=2', 'v=1  s=1 w=a', ' v=1 s=1 w=a', 'v=1 s=1 w=a ',
  ]) {
    assert.equal(parseBinaryItemHeader(bad), null, bad);
  }
});
