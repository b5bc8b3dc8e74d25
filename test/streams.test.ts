/**
 * Server streams against a real broker and a real worker process: order and completeness of
 * 100,000 items, flow control against a slow reader (measured in the worker), the frames the
 * worker cuts (read off the wire), large byte arrays in binary item frames, the typed proxy, and typed errors for call and stream on the
 * wrong kind of method.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInbox } from 'nats';
import { connect, type ApiOf } from '../src/index.js';
import streamer from './fixtures/streamer.js';
import { closing, startNats } from './helpers/nats.js';
import { spawnWorker } from './helpers/processes.js';
import { sleep } from './helpers/load.js';
import { close, MB, quiet, rejection, type StreamerState as State } from './helpers/streams.js';
import { checkReply } from '../src/protocol/envelope.js';
import { decodeChecked, encode, encodeRequest } from '../src/protocol/codec.js';
import { asItemFrame, BINARY_ITEM_HEADER, BINARY_ITEM_MIN_BYTES, binaryItemHeader, FRAME_ITEM_BYTES } from '../src/protocol/stream.js';
import { headerValue } from '../src/protocol/nats-headers.js';
import { DEFAULT_STREAM_WINDOW_BYTES, DEFAULT_STREAM_WINDOW_ITEMS } from '../src/options/table.js';

const nc = (c: { connection: import('nats').NatsConnection }) => c.connection;

test('100,000 items arrive in order, none lost, none duplicated (test 1)', async () => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  let next = 0;
  for await (const item of client.stream<{ i: number }>('streamer.count', { n: 100_000 })) {
    assert.equal(item.i, next);
    next++;
  }
  assert.equal(next, 100_000);
});

test('a slow reader holds the generator within the credit window; memory stays bounded (test 2)', async (t) => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const window = { items: 16, bytes: 64 * 1024 };
  const before = (await client.call<State>('streamer.state')).rss;
  const callerBefore = process.memoryUsage().rss;
  let read = 0;
  const stream = client.stream<{ i: number }>('streamer.endless', {}, { window });
  for await (const item of stream) {
    assert.equal(item.i, read);
    if (++read === 50) break;
    await sleep(20);
    if (read === 49) {
      // Measured in the worker while the stream is open: produced, never more than read + window.
      const s = await client.call<State>('streamer.state');
      t.diagnostic(`produced ${s.produced} after ${read} read, window ${window.items}; worker RSS ${(before / MB).toFixed(1)} -> ${(s.rss / MB).toFixed(1)} MB, caller RSS ${(callerBefore / MB).toFixed(1)} -> ${(process.memoryUsage().rss / MB).toFixed(1)} MB`);
      assert.ok(s.produced <= read + window.items, `produced ${s.produced} with ${read} read`);
      assert.ok(s.rss - before < 64 * MB, `worker RSS grew ${(s.rss - before) / MB} MB`);
    }
  }
  assert.ok(process.memoryUsage().rss - callerBefore < 64 * MB);
});

test('the worker batches 1,024 small items a frame with the default window, and large items up to 64 KiB a frame', async () => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const nc = client.connection;
  /** The items of each frame (with the sum of their encoded sizes) of a stream read off the wire, within one window. */
  const frames = async (id: string, payload: { n: number; pad?: number }) => {
    const inbox = createInbox();
    const sub = nc.subscribe(inbox);
    const window = { items: DEFAULT_STREAM_WINDOW_ITEMS, bytes: DEFAULT_STREAM_WINDOW_BYTES };
    nc.publish('rpc.streamer.count', encodeRequest({ v: 1, id, method: 'count', budgetMs: 10_000, attempt: 1, payload, cancellable: true, stream: window }), { reply: inbox });
    const got: { items: number; bytes: number }[] = [];
    for await (const m of sub) {
      const value = decodeChecked(m.data);
      const frame = asItemFrame(value);
      if (frame === null) {
        assert.equal(checkReply(value), null);
        assert.equal((value as { result: unknown }).result, payload.n);
        break;
      }
      assert.equal(frame.s, got.reduce((n, f) => n + f.items, 0));
      got.push({ items: frame.items.length, bytes: frame.items.reduce((n: number, item) => n + encode(item).length, 0) });
    }
    return got;
  };
  // The open frame, then as many items as a frame holds: the count generator never pauses.
  assert.deepEqual((await frames('small', { n: 3_000 })).map((f) => f.items), [0, 1_024, 1_024, 952]);
  const large = await frames('large', { n: 10, pad: 20_000 });
  assert.deepEqual(large.map((f) => f.items), [0, 3, 3, 3, 1]);
  for (const f of large) assert.ok(f.bytes <= FRAME_ITEM_BYTES, `${f.bytes} bytes of items in one frame`);
  const huge = await frames('huge', { n: 3, pad: 100_000 });
  assert.deepEqual(huge.map((f) => f.items), [0, 1, 1, 1], 'an item over 64 KiB goes alone');
});

test('large byte arrays travel as binary item frames, in order with the other items, within a small window', async () => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const size = BINARY_ITEM_MIN_BYTES + 1;
  // Off the wire: an even item is a message with the header, its payload the bytes as they are.
  const inbox = createInbox();
  const sub = nc(client).subscribe(inbox, { max: 4 });
  const window = { items: 64, bytes: 4 * 1024 * 1024 };
  nc(client).publish('rpc.streamer.mixed', encodeRequest({ v: 1, id: 'raw', method: 'mixed', budgetMs: 10_000, attempt: 1, payload: { n: 2, size }, cancellable: true, stream: window }), { reply: inbox });
  const wire = [];
  for await (const m of sub) wire.push(m);
  assert.equal(headerValue(wire[1]!, BINARY_ITEM_HEADER), binaryItemHeader(0, asItemFrame(decodeChecked(wire[0]!.data))!.w));
  assert.deepEqual(new Uint8Array(wire[1]!.data), new Uint8Array(size).fill(0));
  assert.deepEqual(asItemFrame(decodeChecked(wire[2]!.data))?.items, [{ i: 1 }]);
  // Through the client, with credit for a few items at a time: complete, in order, intact.
  let next = 0;
  for await (const item of client.stream<Uint8Array | { i: number }>('streamer.mixed', { n: 200, size }, { window: { items: 8, bytes: 4 * size } })) {
    if (next % 2 === 0) {
      assert.ok(item instanceof Uint8Array && item.constructor === Uint8Array && item.length === size, `item ${next}`);
      assert.ok(item.every((b) => b === (next & 0xff)), `item ${next} holds its own bytes`);
    } else assert.deepEqual(item, { i: next });
    next++;
  }
  assert.equal(next, 200);
  // A generator that refills one buffer after each yield: each item still arrives with its own bytes.
  next = 0;
  for await (const item of client.stream<Uint8Array>('streamer.reused', { n: 50, size })) {
    assert.ok(item.every((b) => b === (next & 0xff)), `reused buffer, item ${next}`);
    next++;
  }
  assert.equal(next, 50);
});

test('the typed proxy streams from the definition; call and stream on the wrong kind of method are typed errors', async () => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const api: ApiOf<typeof streamer> = client.service(streamer);
  const items: number[] = [];
  for await (const item of api.count({ n: 5 })) items.push(item.i);
  assert.deepEqual(items, [0, 1, 2, 3, 4]);
  assert.equal(await api.plain({ x: 2 }), 4);
  const onStream = await rejection(() => client.call('streamer.count', { n: 1 }));
  assert.equal(onStream.code, 'BAD_REQUEST');
  assert.match(onStream.message, /client\.stream/);
  const onPlain = await rejection(async () => {
    for await (const _ of client.stream('streamer.plain', { x: 1 }));
  });
  assert.equal(onPlain.code, 'BAD_REQUEST');
  assert.match(onPlain.message, /client\.call/);
  const none = await rejection(async () => {
    for await (const _ of client.stream('nobody.here'));
  });
  assert.equal(none.code, 'NO_RESPONDERS');
});
