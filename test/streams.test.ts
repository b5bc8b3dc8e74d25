/**
 * Server streams against a real broker and real worker processes: order and completeness, flow
 * control against a slow reader, cancellation both ways, deadlines, a worker killed mid-stream,
 * errors mid-stream, drain, and hostile frames and credit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, RpcError, startWorker, type ApiOf } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { creditSubject } from '../src/protocol/subjects.js';
import { encode } from '../src/protocol/codec.js';
import streamer from './fixtures/streamer.js';
import { closing, startNats } from './helpers/nats.js';
import { runCli, spawnWorker, workerIdOf } from './helpers/processes.js';
import { sleep, waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');
const close = (c: { close(): Promise<void> }) => c.close();
type State = { produced: number; finallyRuns: number; finallyAt: number; endedBy: string; rss: number };
const MB = 1024 * 1024;

async function rejection(run: () => Promise<unknown>): Promise<RpcError> {
  try {
    await run();
  } catch (err) {
    assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the stream to throw');
}

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
  assert.ok(await waitFor(async () => (s = await client.call<State>('streamer.state')).finallyRuns > runsBefore, 5_000), 'the generator finally ran');
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
  assert.ok(await waitFor(async () => (await other.call<State>('streamer.state')).finallyRuns > runsBefore, 5_000), 'the generator finally ran');
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
    assert.ok(await waitFor(async () => (s = await client.call<State>('streamer.state')).finallyRuns > runsBefore, 5_000), `generator ended after the ${reason}`);
    assert.equal(s.endedBy, 'TIMEOUT');
  }
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

test('hostile credit and stream requests: ignored or refused, and the worker keeps serving (test 7)', async () => {
  await using nats = await startNats();
  await using worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const nc = client.connection;
  const credit = creditSubject('rpc', workerIdOf(worker));
  // Garbage, a credit for no stream, a credit far beyond any window, a deep structure.
  nc.publish(credit, new Uint8Array([0xc1, 0xff, 0x00]));
  nc.publish(credit, encode({ v: 1, id: 'nobody', items: 5, bytes: 5 }));
  nc.publish(credit, encode({ v: 1, id: 'x', items: 2 ** 40, bytes: -1 }));
  nc.publish(credit, new Uint8Array([...new Array<number>(200).fill(0x91), 0x90]));
  // A stream request asking for a window beyond the bounds.
  const bad = await nc.request('rpc.streamer.count', encode({ v: 1, id: 'h1', method: 'count', budgetMs: 1000, attempt: 1, payload: { n: 3 }, stream: { items: 1e9, bytes: 1 } }));
  assert.match(new TextDecoder().decode(bad.data), /stream window/);
  // While a stream is open, a forged credit for it can never push the worker past its window.
  const stream = client.stream<{ i: number }>('streamer.endless', {}, { window: { items: 4 } });
  await stream.next();
  let read = 1;
  for await (const _ of stream) if (++read === 30) break;
  const items: number[] = [];
  for await (const item of client.stream<{ i: number }>('streamer.count', { n: 3 })) items.push(item.i);
  assert.deepEqual(items, [0, 1, 2]);
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

test('natsrpc call on a streaming method prints NDJSON, one line per item, and exits with the outcome', async () => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  const ok = await runCli(['call', 'streamer.count', '{"n":3}', '--servers', nats.url]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(ok.stdout.split('\n').map((l) => JSON.parse(l) as unknown), [{ i: 0 }, { i: 1 }, { i: 2 }]);
  const broke = await runCli(['call', 'streamer.fail', '{"after":2}', '--servers', nats.url]);
  assert.equal(broke.code, 1);
  assert.equal(broke.stdout, '0\n1');
  assert.match(broke.stderr, /^STREAM_BROKE: broke after 2 items/m);
  const plain = await runCli(['call', 'streamer.plain', '{"x":4}', '--servers', nats.url]);
  assert.equal(plain.stdout, '8');
});
