/**
 * Dead, frozen and blocked worker processes: SIGKILL, SIGSTOP under load with the shipped broker
 * configuration, a blocked event loop that trips the watchdog, and a busy worker that must not be
 * taken for dead. Real nats-server, real processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, RpcError, type RpcClient } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { startNats } from './helpers/nats.js';
import { sleep, startLoad, waitFor } from './helpers/load.js';
import { BROKER_CONFIG, INTERVAL_MS, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';

const quiet = createLogger('test', 'silent');

/** A closed-loop load that records, for each call, when it was sent and how it ended. */
function timedLoad(client: RpcClient, concurrency: number, timeoutMs: number, maxDurationMs: number) {
  const calls: { sentAt: number; endedAt: number; code: string | null; pid?: number }[] = [];
  let stopped = false;
  const until = Date.now() + maxDurationMs;
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped && Date.now() < until && calls.length < 200_000) {
      const sentAt = Date.now();
      try {
        const r = await client.call<{ pid: number }>('ward.work', null, { timeoutMs });
        calls.push({ sentAt, endedAt: Date.now(), code: null, pid: r.pid });
      } catch (err) {
        if (!(err instanceof RpcError)) throw err;
        calls.push({ sentAt, endedAt: Date.now(), code: err.code });
      }
    }
  });
  return {
    calls,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return calls;
    },
  };
}

test('supervisor item 5a: a SIGKILLed worker is marked lost within 3 heartbeat intervals', async (t) => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using victim = await spawnWard(nats.url);
  await using w2 = await spawnWard(nats.url);
  await using sup = await spawnSupervisor(nats.url);
  assert.ok(await rec.waitServing('ward', 2), 'the supervisor sees 2 healthy workers');
  victim.handle.signal('SIGKILL');
  const killedAt = Date.now();
  await victim.handle.exited;
  const lost = await rec.waitEvent('lost', victim.id, 10 * INTERVAL_MS);
  assert.ok(lost, `the killed worker is marked lost: ${sup.lines.slice(-3).join('\n')}`);
  // Times by the senders' clocks (one host): when the supervisor decided, not when this test heard it.
  const lastBeat = rec.beatsOf(victim.id).at(-1)!.value.ts;
  const afterKill = lost.value.ts - killedAt;
  const afterLastBeat = lost.value.ts - lastBeat;
  // Lost means 3 intervals without a heartbeat; the supervisor sweeps every quarter interval.
  assert.ok(afterLastBeat <= 3.25 * INTERVAL_MS + 100, `lost ${afterLastBeat} ms after its last heartbeat (bound ${3.25 * INTERVAL_MS + 100} ms)`);
  assert.ok(afterKill <= 3 * INTERVAL_MS + 100, `lost ${afterKill} ms after SIGKILL (bound 3 intervals = ${3 * INTERVAL_MS} ms, +100 ms delivery)`);
  assert.ok(afterLastBeat >= 3 * INTERVAL_MS, 'not before 3 intervals of silence');
  const workers = (await rec.status()).services[0]!.workers;
  assert.equal(workers.find((w) => w.id === victim.id)?.state, 'lost');
  assert.equal(workers.find((w) => w.id === w2.id)?.state, 'serving');
  t.diagnostic(`item 5a: SIGKILL -> lost ${afterKill} ms (last heartbeat -> lost ${afterLastBeat} ms; interval ${INTERVAL_MS} ms)`);
});

test('supervisor item 5b: a SIGSTOPped worker under load stops receiving requests within 5 s with the shipped broker config, and serves again after SIGCONT', async (t) => {
  const BOUND_MS = 5_000;
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using frozen = await spawnWard(nats.url);
  await using w2 = await spawnWard(nats.url);
  await using w3 = await spawnWard(nats.url);
  await using sup = await spawnSupervisor(nats.url);
  assert.ok(await rec.waitServing('ward', 3), 'the supervisor sees 3 healthy workers');
  const client = await connect({ servers: nats.url, logger: quiet });
  try {
    const load = timedLoad(client, 8, 1_000, 40_000);
    assert.ok(await waitFor(() => load.calls.length >= 100), 'load is flowing');
    frozen.handle.signal('SIGSTOP');
    const stoppedAt = Date.now();
    // Wait until well past the bound, then look at which calls were lost to the frozen worker.
    await sleep(BOUND_MS + 1_500);
    const lostCalls = load.calls.filter((c) => c.code === 'TIMEOUT');
    assert.ok(lostCalls.length > 0, 'calls routed to the frozen worker time out (the test would prove nothing otherwise)');
    const lastLostSentAt = Math.max(...lostCalls.map((c) => c.sentAt));
    const isolationMs = lastLostSentAt - stoppedAt;
    assert.ok(isolationMs < BOUND_MS, `the last call routed to the frozen worker was sent ${isolationMs} ms after SIGSTOP (bound ${BOUND_MS} ms)`);
    const other = load.calls.filter((c) => c.code !== null && c.code !== 'TIMEOUT');
    assert.deepEqual(other.map((c) => c.code), [], 'no other kind of failure');
    const lostEvent = rec.eventsOf('lost', frozen.id)[0];
    assert.ok(lostEvent, 'the supervisor marked the frozen worker lost');

    frozen.handle.signal('SIGCONT');
    const contAt = Date.now();
    assert.ok(await waitFor(() => load.calls.some((c) => c.endedAt > contAt && c.pid === frozen.handle.pid), 15_000), 'the thawed worker serves again');
    const backMs = Date.now() - contAt;
    assert.ok(await waitFor(() => rec.eventsOf('returned', frozen.id).length > 0, 5_000), 'the supervisor sees it return');
    assert.equal(frozen.handle.child.exitCode, null, 'the watchdog did not take the freeze for a blocked loop');
    const calls = await load.stop();
    t.diagnostic(
      `item 5b: SIGSTOP -> last request routed to the frozen worker ${isolationMs} ms (bound ${BOUND_MS}); SIGSTOP -> lost event ${lostEvent.value.ts - stoppedAt} ms; ` +
        `${lostCalls.length} calls lost to it of ${calls.length}; SIGCONT -> serving again ${backMs} ms`,
    );
    void w2;
    void w3;
    void sup;
  } finally {
    await client.close();
  }
});

test('supervisor item 7: a blocked event loop trips the watchdog: the process exits and no further calls are routed to it', async (t) => {
  const WATCHDOG_MS = 1_500;
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using blocked = await spawnWard(nats.url, ['--watchdog-exit', String(WATCHDOG_MS)]);
  await using w2 = await spawnWard(nats.url, ['--watchdog-exit', String(WATCHDOG_MS)]);
  assert.ok(await waitFor(() => rec.beatsOf(blocked.id).length > 0 && rec.beatsOf(w2.id).length > 0), 'both heartbeat');
  const client = await connect({ servers: nats.url, logger: quiet });
  try {
    const load = timedLoad(client, 4, 1_000, 30_000);
    assert.ok(await waitFor(() => load.calls.length >= 50), 'load is flowing');
    blocked.setMode('block');
    const blockAt = Date.now();
    const exit = await Promise.race([blocked.handle.exited, sleep(WATCHDOG_MS + 5_000).then(() => null)]);
    const exitMs = Date.now() - blockAt;
    assert.ok(exit, 'the blocked worker exited');
    assert.equal(exit.signal, 'SIGKILL', 'the watchdog killed its process');
    assert.ok(exitMs <= WATCHDOG_MS + 2_000, `exited ${exitMs} ms after the loop blocked (threshold ${WATCHDOG_MS} ms)`);
    assert.ok(blocked.handle.stderr.some((l) => l.includes('watchdog exit')), 'the watchdog logged why');
    const final = rec.beatsOf(blocked.id).at(-1)!.value;
    assert.equal(final.final, true);
    assert.match(final.exitReason ?? '', /watchdog: main event loop blocked/);
    assert.ok(rec.beatsOf(blocked.id).some((h) => h.value.stalledMs >= 500), 'heartbeats kept coming while the loop was blocked, reporting the stall');
    const exitedAt = Date.now();
    await sleep(1_500);
    const after = load.calls.filter((c) => c.sentAt > exitedAt + 100);
    assert.ok(after.length > 50, 'calls keep flowing');
    assert.deepEqual(after.filter((c) => c.code !== null).map((c) => c.code), [], 'no call sent after the exit fails');
    assert.ok(after.every((c) => c.pid === w2.handle.pid), 'all go to the healthy worker');
    const lostBefore = load.calls.filter((c) => c.code === 'TIMEOUT' && c.sentAt <= exitedAt);
    const lastLost = Math.max(...lostBefore.map((c) => c.sentAt));
    await load.stop();
    t.diagnostic(`item 7: loop blocked -> process exit ${exitMs} ms (watchdog threshold ${WATCHDOG_MS} ms); last call routed to the blocked worker sent ${lastLost - blockAt} ms after the block; ${lostBefore.length} calls lost to it`);
  } finally {
    await client.close();
  }
});

test('supervisor: busy is not dead: a worker whose handlers block its loop for 4 intervals at a time keeps heartbeating and is never marked lost', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using busy = await spawnWard(nats.url, [], 'busy');
  await using w2 = await spawnWard(nats.url);
  await using sup = await spawnSupervisor(nats.url);
  assert.ok(await waitFor(() => rec.beatsOf(busy.id).length > 0 && rec.beatsOf(w2.id).length > 0), 'both heartbeat');
  const client = await connect({ servers: nats.url, logger: quiet });
  try {
    // Each call to the busy worker holds its main loop for 1 s (4 heartbeat intervals).
    const load = startLoad(client, 'ward.work', () => null, { concurrency: 2, maxDurationMs: 20_000, call: { timeoutMs: 10_000 } });
    const from = Date.now();
    await sleep(4_000);
    await load.stop();
    const beats = rec.beatsOf(busy.id).filter((h) => h.at >= from);
    assert.ok(beats.some((h) => h.value.stalledMs >= 4 * INTERVAL_MS - 100), 'its main loop really was held for several intervals');
    let maxGap = 0;
    for (let i = 1; i < beats.length; i++) maxGap = Math.max(maxGap, beats[i]!.at - beats[i - 1]!.at);
    assert.ok(maxGap < 3 * INTERVAL_MS, `heartbeats kept coming from the watchdog thread (largest gap ${maxGap} ms)`);
    assert.deepEqual(rec.eventsOf('lost').map((e) => e.value.workerId), [], 'never marked lost');
    assert.equal(busy.handle.child.exitCode, null);
    void sup;
  } finally {
    await client.close();
  }
});
