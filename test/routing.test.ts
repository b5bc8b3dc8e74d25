/**
 * Load-aware routing against a real broker: a worker with `routing: 'leave-when-full'` that
 * reaches its concurrency limit leaves the queue group (the broker then routes only to the other
 * worker), stays out while above its low-water mark, and rejoins at it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, defineWorker, RpcError, startWorker, type RpcWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { membershipAction } from '../src/worker/load-aware-routing.js';
import { closing, startNats } from './helpers/nats.js';
import { sleep, waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');

test('membershipAction: leave at the limit, rejoin only at or below the low-water mark', () => {
  assert.equal(membershipAction(true, 4, 4, 2), 'leave');
  assert.equal(membershipAction(true, 3, 4, 2), null);
  assert.equal(membershipAction(false, 3, 4, 2), null, 'no flapping just below the limit');
  assert.equal(membershipAction(false, 2, 4, 2), 'join');
  assert.equal(membershipAction(false, 0, 1, 0), 'join');
});

test('a full leave-when-full worker stops receiving requests and rejoins below its low-water mark', async () => {
  await using nats = await startNats();
  const gates: Array<() => void> = [];
  const held = defineWorker({
    service: 'gate',
    methods: {
      hold: () => new Promise<string>((resolve) => gates.push(() => resolve('A'))),
      who: () => 'A',
    },
  });
  const other = defineWorker({ service: 'gate', methods: { hold: () => 'B', who: () => 'B' } });
  const a: RpcWorker = await startWorker(held, { servers: nats.url, logger: quiet, concurrency: 2, lowWater: 0, routing: 'leave-when-full' });
  const b: RpcWorker = await startWorker(other, { servers: nats.url, logger: quiet, concurrency: 1_000 });
  const client = await connect({ servers: nats.url, logger: quiet });
  const holds: Array<Promise<unknown>> = [];
  const whoCounts = async (n: number) => {
    const answers = await Promise.all(Array.from({ length: n }, () => client.call<string>('gate.who')));
    return { A: answers.filter((x) => x === 'A').length, B: answers.filter((x) => x === 'B').length };
  };
  try {
    // Fill A: holds that land on B return at once; those on A stay in flight.
    for (let i = 0; i < 400 && a.inFlight < 2; i++) {
      const call = client.call('gate.hold');
      holds.push(call);
      await Promise.race([call, sleep(30)]);
    }
    assert.equal(a.inFlight, 2, 'worker A is at its concurrency limit');
    await a.connection.flush(); // the broker has processed A's leave

    const whileFull = await whoCounts(200);
    assert.deepEqual(whileFull, { A: 0, B: 200 }, 'a full worker receives nothing');

    gates.shift()!(); // one slot frees: 1 in flight, above the low-water mark of 0
    assert.ok(await waitFor(() => a.inFlight === 1, 5_000));
    await a.connection.flush();
    const aboveLowWater = await whoCounts(200);
    assert.equal(aboveLowWater.A, 0, 'still out of the group above the low-water mark (hysteresis)');

    gates.shift()!(); // back to 0: rejoins
    assert.ok(await waitFor(() => a.inFlight === 0, 5_000));
    await a.connection.flush();
    const rejoined = await whoCounts(200);
    assert.ok(rejoined.A > 0 && rejoined.B > 0, `both workers serve again: ${JSON.stringify(rejoined)}`);
    assert.equal(a.snapshot().failed.OVERLOADED ?? 0, 0, 'nothing was refused with OVERLOADED');
  } finally {
    for (const open of gates.splice(0)) open();
    await Promise.allSettled(holds);
    await client.close();
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('with overload-reply (the default) a full worker stays in the group and refuses with OVERLOADED', async () => {
  await using nats = await startNats();
  const gates: Array<() => void> = [];
  const held = defineWorker({ service: 'gate', methods: { hold: () => new Promise<string>((r) => gates.push(() => r('A'))), who: () => 'A' } });
  const other = defineWorker({ service: 'gate', methods: { hold: () => 'B', who: () => 'B' } });
  const a = await startWorker(held, { servers: nats.url, logger: quiet, concurrency: 1 });
  const b = await startWorker(other, { servers: nats.url, logger: quiet, concurrency: 1_000 });
  const client = await connect({ servers: nats.url, logger: quiet });
  const holds: Array<Promise<unknown>> = [];
  try {
    for (let i = 0; i < 400 && a.inFlight < 1; i++) {
      const call = client.call('gate.hold');
      holds.push(call);
      await Promise.race([call, sleep(30)]);
    }
    assert.equal(a.inFlight, 1);
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => client.call<string>('gate.who')));
    const refused = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'OVERLOADED').length;
    assert.ok(refused > 0, 'the full worker still receives requests and refuses them');
  } finally {
    for (const open of gates.splice(0)) open();
    await Promise.allSettled(holds);
    await client.close();
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('a leave-when-full worker whose call is cancelled frees the slot and rejoins the group', async () => {
  await using nats = await startNats();
  const def = defineWorker({
    service: 'solo',
    methods: {
      wait: (_p: unknown, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.abortReason), { once: true })),
      ping: () => 'pong',
    },
  });
  await using worker = closing(await startWorker(def, { servers: nats.url, logger: quiet, concurrency: 1, lowWater: 0, routing: 'leave-when-full' }), (w) => w.stop());
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());
  const abort = new AbortController();
  const cancelled = client.call('solo.wait', null, { signal: abort.signal, timeoutMs: 30_000 }).catch((e: RpcError) => e.code);
  assert.ok(await waitFor(() => worker.inFlight === 1, 5_000));
  abort.abort();
  assert.equal(await cancelled, 'CANCELLED');
  assert.ok(await waitFor(() => worker.inFlight === 0, 5_000), 'the handler saw the cancel and ended');
  await worker.connection.flush();
  // The only worker: if it had not rejoined, the broker would answer NO_RESPONDERS until the deadline.
  assert.equal(await client.call('solo.ping', null, { timeoutMs: 5_000 }), 'pong');
});
