/**
 * Dead and frozen worker processes: SIGKILL, and SIGSTOP under load with the shipped broker
 * configuration; and a supervisor cut off from the broker, which must not take that for its
 * workers' silence. Real nats-server, real processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { startNats } from './helpers/nats.js';
import { sleep, waitFor } from './helpers/load.js';
import { BROKER_CONFIG, INTERVAL_MS, Recorder, spawnSupervisor, spawnWard, timedLoad } from './helpers/supervision.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { RECONNECT_GRACE_INTERVALS } from '../src/supervisor/hearing.js';

const quiet = createLogger('test', 'silent');

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
  // Lost means 3 intervals without a heartbeat; the supervisor sweeps every quarter interval, and
  // the last heartbeat came before the kill. Bound: 3 intervals + one sweep + 100 ms of timer slack.
  const bound = 3 * INTERVAL_MS + INTERVAL_MS / 4 + 100;
  assert.ok(afterLastBeat <= bound, `lost ${afterLastBeat} ms after its last heartbeat (bound ${bound} ms)`);
  assert.ok(afterKill <= bound, `lost ${afterKill} ms after SIGKILL (bound ${bound} ms)`);
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
  // A worker back from lost sits out one ejection period before it serves again.
  const BASE_EJECTION_MS = 2_000;
  await using sup = await spawnSupervisor(nats.url, { baseEjectionMs: BASE_EJECTION_MS });
  assert.ok(await rec.waitServing('ward', 3), 'the supervisor sees 3 healthy workers');
  const client = await connect({ servers: nats.url, logger: quiet });
  let load: ReturnType<typeof timedLoad> | undefined;
  try {
    load = timedLoad(client, 8, 1_000, 40_000);
    const { calls: sent } = load;
    assert.ok(await waitFor(() => sent.length >= 100), 'load is flowing');
    frozen.handle.signal('SIGSTOP');
    const stoppedAt = Date.now();
    // Wait until well past the bound, then look at which calls were lost to the frozen worker.
    await sleep(BOUND_MS + 1_500);
    // A call routed into the frozen worker ends at its deadline (TIMEOUT), or as WORKER_LOST once
    // the supervisor's lost event reaches the client first.
    const lostToFrozen = (code: string | null) => code === 'TIMEOUT' || code === 'WORKER_LOST';
    const lostCalls = sent.filter((c) => lostToFrozen(c.code));
    assert.ok(lostCalls.length > 0, 'calls routed to the frozen worker are lost (the test would prove nothing otherwise)');
    const lastLostSentAt = Math.max(...lostCalls.map((c) => c.sentAt));
    const isolationMs = lastLostSentAt - stoppedAt;
    assert.ok(isolationMs < BOUND_MS, `the last call routed to the frozen worker was sent ${isolationMs} ms after SIGSTOP (bound ${BOUND_MS} ms)`);
    const other = sent.filter((c) => c.code !== null && !lostToFrozen(c.code));
    assert.deepEqual(other.map((c) => c.code), [], 'no other kind of failure');
    const lostEvent = rec.eventsOf('lost', frozen.id)[0];
    assert.ok(lostEvent, 'the supervisor marked the frozen worker lost');

    frozen.handle.signal('SIGCONT');
    const contAt = Date.now();
    assert.ok(await waitFor(() => rec.eventsOf('returned', frozen.id).length > 0, 10_000), 'the supervisor sees it return');
    assert.ok(await rec.waitEvent('resume', frozen.id, BASE_EJECTION_MS + 10_000), 'it is let back in after its ejection period');
    assert.ok(await waitFor(() => sent.some((c) => c.endedAt > contAt && c.pid === frozen.handle.pid), 5_000), 'the thawed worker serves again');
    const backMs = Date.now() - contAt;
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
    await load?.stop().catch(() => undefined);
    await client.close();
  }
});

test('a supervisor cut off from the broker for twice the silence that makes a worker lost declares nobody lost, kicks nobody and drains nobody', async (t) => {
  // A system account, so that the supervisor would kick the workers it declared lost.
  await using nats = await startNats({
    configText: `accounts { APP { users: [ { user: app, password: app } ] }, SYS { users: [ { user: sys, password: sys-secret } ] } }\n` +
      `system_account: SYS\nno_auth_user: app\n`,
  });
  await using proxy = await TcpProxy.start(nats.url);
  await using rec = await Recorder.start(nats.url);
  await using w1 = await spawnWard(nats.url);
  await using w2 = await spawnWard(nats.url);
  await using w3 = await spawnWard(nats.url);
  void [w1, w2, w3];
  // Only the supervisor (both its connections) goes through the proxy.
  await using sup = await spawnSupervisor(proxy.url, { baseEjectionMs: 2_000 }, ['--sys-user', 'sys', '--sys-pass', 'sys-secret']);
  assert.ok(await rec.waitServing('ward', 3), 'the supervisor sees 3 healthy workers');
  proxy.cut();
  const cutAt = Date.now();
  await sup.waitForLine(/supervisor disconnected/, 5_000);
  await sleep(6 * INTERVAL_MS);
  proxy.restore();
  await sup.waitForLine(/supervisor reconnected/, 10_000);
  const backAt = Date.now();
  // Past the grace period, and a few sweeps after it.
  await sleep((RECONNECT_GRACE_INTERVALS + 3) * INTERVAL_MS);
  const judged = sup.lines.filter((l) => /"decision":"(lost|returned|drain|shutdown|withheld)"|kicked/.test(l));
  assert.deepEqual(judged, [], 'no worker judged for the supervisor\'s own outage');
  const events = rec.events.filter((e) => e.value.kind !== 'joined' && e.value.kind !== 'leader');
  assert.deepEqual(events.map((e) => `${e.value.kind} ${e.value.workerId}`), []);
  assert.ok(await rec.waitServing('ward', 3), 'all three still serving and healthy');
  t.diagnostic(`supervisor cut off for ${backAt - cutAt} ms (workers are lost after ${3 * INTERVAL_MS} ms of silence)`);
});
