/**
 * The watchdog thread: a blocked event loop makes the process exit, and a busy one that still
 * makes progress keeps heartbeating and is not taken for dead. Real nats-server, real processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { startNats } from './helpers/nats.js';
import { sleep, startLoad, waitFor, type Load } from './helpers/load.js';
import { BROKER_CONFIG, INTERVAL_MS, Recorder, spawnSupervisor, spawnWard, timedLoad } from './helpers/supervision.js';

const quiet = createLogger('test', 'silent');

test('supervisor item 7: a blocked event loop trips the watchdog: the process exits and no further calls are routed to it', async (t) => {
  const WATCHDOG_MS = 1_500;
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using blocked = await spawnWard(nats.url, ['--watchdog-exit', String(WATCHDOG_MS)]);
  await using w2 = await spawnWard(nats.url, ['--watchdog-exit', String(WATCHDOG_MS)]);
  assert.ok(await waitFor(() => rec.beatsOf(blocked.id).length > 0 && rec.beatsOf(w2.id).length > 0), 'both heartbeat');
  const client = await connect({ servers: nats.url, logger: quiet });
  let load: ReturnType<typeof timedLoad> | undefined;
  try {
    load = timedLoad(client, 4, 1_000, 30_000);
    const calls = load.calls;
    assert.ok(await waitFor(() => calls.length >= 50), 'load is flowing');
    blocked.setMode('block');
    const blockAt = Date.now();
    const exit = await Promise.race([blocked.handle.exited, sleep(WATCHDOG_MS + 5_000).then(() => null)]);
    const exitMs = Date.now() - blockAt;
    assert.ok(exit, 'the blocked worker exited');
    assert.equal(exit.signal, 'SIGKILL', 'the watchdog killed its process');
    assert.ok(exitMs <= WATCHDOG_MS + 2_000, `exited ${exitMs} ms after the loop blocked (threshold ${WATCHDOG_MS} ms)`);
    // The exit and the final heartbeat are the typed signals; the log line may trail the exit on its pipe.
    assert.ok(await waitFor(() => blocked.handle.stderr.some((l) => l.includes('watchdog exit')), 5_000), 'the watchdog logged why');
    const final = rec.beatsOf(blocked.id).at(-1)!.value;
    assert.equal(final.final, true);
    assert.match(final.exitReason ?? '', /watchdog: main event loop blocked/);
    assert.ok(rec.beatsOf(blocked.id).some((h) => h.value.stalledMs >= 500), 'heartbeats kept coming while the loop was blocked, reporting the stall');
    const exitedAt = Date.now();
    await sleep(1_500);
    const after = calls.filter((c) => c.sentAt > exitedAt + 100);
    assert.ok(after.length > 50, 'calls keep flowing');
    assert.deepEqual(after.filter((c) => c.code !== null).map((c) => c.code), [], 'no call sent after the exit fails');
    assert.ok(after.every((c) => c.pid === w2.handle.pid), 'all go to the healthy worker');
    const lostBefore = calls.filter((c) => c.code === 'TIMEOUT' && c.sentAt <= exitedAt);
    const lastLost = Math.max(...lostBefore.map((c) => c.sentAt));
    await load.stop();
    t.diagnostic(`item 7: loop blocked -> process exit ${exitMs} ms (watchdog threshold ${WATCHDOG_MS} ms); last call routed to the blocked worker sent ${lastLost - blockAt} ms after the block; ${lostBefore.length} calls lost to it`);
  } finally {
    await load?.stop().catch(() => undefined);
    await client.close();
  }
});

test('supervisor: busy is not dead: a worker whose handlers block its loop for 4 intervals at a time keeps heartbeating and is never marked lost', async (t) => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using busy = await spawnWard(nats.url, [], 'busy');
  await using w2 = await spawnWard(nats.url);
  // Liveness only: a loop held this long is unhealthy by the default policy (and would be drained).
  await using sup = await spawnSupervisor(nats.url, { maxLoopDelayMs: 60_000, maxStalledMs: 60_000 });
  assert.ok(await waitFor(() => rec.beatsOf(busy.id).length > 0 && rec.beatsOf(w2.id).length > 0), 'both heartbeat');
  const client = await connect({ servers: nats.url, logger: quiet });
  let load: Load | undefined;
  try {
    // Each call to the busy worker holds its main loop for 4 heartbeat intervals.
    load = startLoad(client, 'ward.work', () => null, { concurrency: 2, maxDurationMs: 20_000, call: { timeoutMs: 10_000 } });
    const from = Date.now();
    await sleep(8 * INTERVAL_MS);
    await load.stop();
    const beats = rec.beatsOf(busy.id).filter((h) => h.at >= from);
    // Heartbeats sent while the loop was held: from the main thread there could be none.
    const maxStalled = Math.max(...beats.map((h) => h.value.stalledMs));
    assert.ok(maxStalled >= 2 * INTERVAL_MS, `heartbeats went out while its main loop was held (max stalledMs ${maxStalled})`);
    // Gaps by the sender's clock: this test process is busy too and may read them late.
    let maxGap = 0;
    for (let i = 1; i < beats.length; i++) maxGap = Math.max(maxGap, beats[i]!.value.ts - beats[i - 1]!.value.ts);
    assert.ok(maxGap < 3 * INTERVAL_MS, `heartbeats kept coming from the watchdog thread (largest gap ${maxGap} ms)`);
    assert.deepEqual(rec.eventsOf('lost').map((e) => e.value.workerId), [], 'never marked lost');
    assert.equal(busy.handle.child.exitCode, null);
    t.diagnostic(`busy worker: main loop held up to ${maxStalled} ms, largest heartbeat gap ${maxGap} ms (lost after ${3 * INTERVAL_MS} ms)`);
    void sup;
  } finally {
    await load?.stop().catch(() => undefined);
    await client.close();
  }
});
