/**
 * Streams that fail, against a real broker: an error thrown mid-stream, a worker SIGKILLed
 * mid-stream, a drain that cuts a stream, and hostile frames (msgpack and binary) arriving at the caller.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, startWorker } from '../src/index.js';
import { headers } from 'nats';
import { decodeRequest, encode } from '../src/protocol/codec.js';
import streamer from './fixtures/streamer.js';
import { closing, startNats } from './helpers/nats.js';
import { spawnWorker, workerIdOf } from './helpers/processes.js';
import { sleep } from './helpers/load.js';
import { close, quiet, rejection } from './helpers/streams.js';

test('an error thrown mid-stream reaches the caller after the items sent, marked partial', async () => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const items: number[] = [];
  const err = await rejection(async () => {
    for await (const item of client.stream<number>('streamer.fail', { after: 3 })) items.push(item);
  });
  assert.deepEqual(items, [0, 1, 2]);
  assert.equal(err.code, 'STREAM_BROKE');
  assert.deepEqual(err.details, { after: 3, partial: true, received: 3 });
});

test('SIGKILL of the worker mid-stream ends the loop with WORKER_LOST (test 4)', async (t) => {
  await using nats = await startNats();
  await using worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const stream = client.stream<{ i: number }>('streamer.endless', {}, { window: { items: 8 } });
  let killedAt = 0;
  const err = await rejection(async () => {
    for await (const item of stream) {
      if (item.i === 20) {
        worker.signal('SIGKILL');
        killedAt = Date.now();
      }
      if (item.i > 20) await sleep(5);
    }
  });
  const tookMs = Date.now() - killedAt;
  t.diagnostic(`WORKER_LOST ${tookMs} ms after SIGKILL`);
  assert.equal(err.code, 'WORKER_LOST');
  assert.equal(stream.workerId, workerIdOf(worker));
  assert.equal((err.details as { partial: boolean }).partial, true);
});

test('drain waits for an open stream, and one cut by the drain timeout ends with DRAINING, partial (test 7)', async () => {
  await using nats = await startNats();
  const worker = await startWorker(streamer, { servers: nats.url, logger: quiet, drainTimeoutMs: 300 });
  await using _w = closing(worker, (w) => w.stop());
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const stream = client.stream<number>('streamer.stall', { n: 2 });
  assert.equal((await stream.next()).value, 0);
  assert.equal(worker.inFlight, 1, 'the stream holds a slot');
  const drained = worker.drain();
  assert.equal((await stream.next()).value, 1);
  const err = await rejection(() => stream.next());
  assert.equal(err.code, 'DRAINING');
  assert.deepEqual(err.details, { partial: true, received: 2 });
  await drained;
  assert.equal(worker.inFlight, 0);
});

test('hostile item frames at the caller: a gap, a huge declared length and an unknown message are typed errors', async () => {
  await using nats = await startNats();
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const nc = client.connection;
  const frames: Uint8Array[] = [
    encode({ v: 1, id: '', w: 'evil', s: 5, items: [1] }), // id is checked before anything else
    new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), // an array claiming 4 billion elements
    encode({ hello: 'world' }),
  ];
  const fake = nc.subscribe('rpc.evil.*', { queue: 'evil' });
  void (async () => {
    let n = 0;
    for await (const m of fake) {
      const id = (await import('../src/protocol/codec.js')).decodeRequest(m.data).id;
      const frame = n === 0 ? encode({ v: 1, id, w: 'evil', s: 5, items: [1] }) : frames[n]!;
      n++;
      m.respond(frame);
    }
  })();
  for (let i = 0; i < 3; i++) {
    const err = await rejection(async () => {
      for await (const _ of client.stream('evil.go', undefined, { timeoutMs: 2_000 }));
    });
    assert.equal(err.code, 'INTERNAL', err.message);
    assert.match(err.message, /broke the protocol/);
  }
  fake.unsubscribe();
});

test('hostile binary item frames at the caller: a header off its rules, a gap, another worker are typed errors', async () => {
  await using nats = await startNats();
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const nc = client.connection;
  const binary = (value: string) => {
    const h = headers();
    h.set('Natsrpc-Item', value);
    return { headers: h };
  };
  const fake = nc.subscribe('rpc.evil.*', { queue: 'evil' });
  let n = 0;
  void (async () => {
    for await (const m of fake) {
      const id = decodeRequest(m.data).id;
      m.respond(encode({ v: 1, id, w: 'evil', s: 0, items: [] })); // the open frame
      const bytes = new Uint8Array(8);
      if (n === 0) m.respond(bytes, binary('v=1 s=00 w=evil')); // a leading zero
      else if (n === 1) m.respond(bytes, binary('v=1 s=3 w=evil')); // a gap
      else m.respond(bytes, binary('v=1 s=0 w=other')); // another worker
      n++;
    }
  })();
  for (const what of [/header breaks the rules/, /a gap or a repeat/, /from worker other/]) {
    const err = await rejection(async () => {
      for await (const _ of client.stream('evil.go', undefined, { timeoutMs: 2_000 }));
    });
    assert.equal(err.code, 'INTERNAL', err.message);
    assert.match(err.message, what);
  }
  fake.unsubscribe();
});
