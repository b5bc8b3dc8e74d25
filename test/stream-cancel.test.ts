/**
 * Ending a stream from the caller's side, against a real broker and a real worker process: leaving
 * the loop, closing the client, the overall deadline and the idle timeout all end the worker's
 * generator (its finally runs) and free its slot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import streamer from './fixtures/streamer.js';
import { closing, startNats } from './helpers/nats.js';
import { spawnWorker } from './helpers/processes.js';
import { waitFor } from './helpers/load.js';
import { close, quiet, rejection, type StreamerState as State } from './helpers/streams.js';

test('leaving the loop after 10 items returns the worker generator and frees its slot (test 3)', async (t) => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('test/fixtures/streamer.ts', nats.url, ['--concurrency', '2']);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const api = client.service(streamer);
  const runsBefore = (await client.call<State>('streamer.state')).finallyRuns;
  let read = 0;
  for await (const _item of api.endless(undefined)) if (++read === 10) break;
  const brokeAt = Date.now();
  let s!: State;
  assert.ok(await waitFor(async () => (s = await client.call<State>('streamer.state')).finallyRuns > runsBefore, 30_000), 'the generator finally ran');
  t.diagnostic(`generator finally ran ${s.finallyAt - brokeAt} ms after the loop left`);
  assert.equal(s.endedBy, 'CANCELLED');
  // Concurrency 2: one stream held open plus a call both fit only if the first stream's slot is free.
  const held = client.stream<{ i: number }>('streamer.endless', {}, { window: { items: 1 } });
  assert.equal(((await held.next()).value as { i: number }).i, 0);
  assert.equal(await client.call('streamer.plain', { x: 21 }), 42);
  await held.return();
});

test('closing the client ends its open streams with UNAVAILABLE and returns their generators', async () => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  await using other = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const runsBefore = (await other.call<State>('streamer.state')).finallyRuns;
  const stream = client.stream<{ i: number }>('streamer.endless', {}, { window: { items: 4 } });
  await stream.next(); // then left unread: close() must not wait out the five-minute deadline
  await client.close();
  const err = await rejection(async () => {
    for (;;) if ((await stream.next()).done === true) break;
  });
  assert.equal(err.code, 'UNAVAILABLE');
  assert.ok(await waitFor(async () => (await other.call<State>('streamer.state')).finallyRuns > runsBefore, 30_000), 'the generator finally ran');
});

test('overall deadline and idle timeout mid-stream: TIMEOUT, and the worker generator ends (test 5)', async () => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  for (const [options, reason] of [[{ timeoutMs: 600 }, 'deadline'], [{ idleTimeoutMs: 300 }, 'idle']] as const) {
    const runsBefore = (await client.call<State>('streamer.state')).finallyRuns;
    const items: number[] = [];
    const err = await rejection(async () => {
      for await (const item of client.stream<number>('streamer.stall', { n: 2 }, options)) items.push(item);
    });
    assert.deepEqual(items, [0, 1]);
    assert.equal(err.code, 'TIMEOUT');
    const details = err.details as { reason?: string; partial: boolean; received: number };
    assert.equal(details.partial, true);
    assert.equal(details.received, 2);
    // The worker's own deadline (the same budget, from when the request arrived) may end it first.
    if (reason === 'idle' || details.reason !== undefined) assert.equal(details.reason, reason);
    let s!: State;
    assert.ok(await waitFor(async () => (s = await client.call<State>('streamer.state')).finallyRuns > runsBefore, 30_000), `generator ended after the ${reason}`);
    assert.equal(s.endedBy, 'TIMEOUT');
  }
});
