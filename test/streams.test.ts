/**
 * Server streams against a real broker and a real worker process: order and completeness of
 * 100,000 items, flow control against a slow reader (measured in the worker), the typed proxy, and
 * typed errors for call and stream on the wrong kind of method.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ApiOf } from '../src/index.js';
import streamer from './fixtures/streamer.js';
import { closing, startNats } from './helpers/nats.js';
import { spawnWorker } from './helpers/processes.js';
import { sleep } from './helpers/load.js';
import { close, MB, quiet, rejection, type StreamerState as State } from './helpers/streams.js';

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
