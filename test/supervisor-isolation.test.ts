/**
 * Isolating a sick worker at once: a worker whose fault streak crosses the threshold sends an early
 * heartbeat, and the supervisor drains it then instead of at its next heartbeat. The heartbeat
 * interval here is long (10 s), so a drain that waited for a scheduled heartbeat would come after
 * thousands of failed calls; the bound below is generous and no timing is asserted. The policy
 * limits (maxDrainPercent, never the last serving worker) still hold. Real processes and broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { EARLY_FAULT_STREAK } from '../src/worker/stats.js';
import { decodeChecked, encode } from '../src/protocol/codec.js';
import { controlSubject } from '../src/protocol/subjects.js';
import { startNats } from './helpers/nats.js';
import { sleep, startLoad, waitFor } from './helpers/load.js';
import { BROKER_CONFIG, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';

const quiet = createLogger('test', 'silent');
/** Far longer than the test: scheduled heartbeats play no part in the drain. */
const SLOW_HEARTBEAT = ['--heartbeat', '10000'];
/** Failed calls allowed before the drain takes effect: far above what an early heartbeat lets through, far below a heartbeat interval's worth. */
const GENEROUS_FAILED_CALLS = 300;

test('a worker failing every call says so at once and is drained before its next heartbeat; few calls fail', async (t) => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using sick = await spawnWard(nats.url, SLOW_HEARTBEAT);
  await using w2 = await spawnWard(nats.url, SLOW_HEARTBEAT);
  await using w3 = await spawnWard(nats.url, SLOW_HEARTBEAT);
  await using w4 = await spawnWard(nats.url, SLOW_HEARTBEAT);
  void [w2, w3, w4];
  await using sup = await spawnSupervisor(nats.url);
  void sup;
  assert.ok(await rec.waitServing('ward', 4), 'the supervisor sees 4 healthy workers');
  const client = await connect({ servers: nats.url, logger: quiet });
  t.after(() => client.close());
  await using load = startLoad(client, 'ward.work', () => null, { concurrency: 8, maxDurationMs: 60_000, call: { timeoutMs: 2_000 } });
  assert.ok(await waitFor(() => load.result.ok >= 200), 'load is flowing');
  sick.setMode('fail');
  const drain = await rec.waitEvent('drain', sick.id, 8_000);
  assert.ok(drain, 'the failing worker is drained well before its next scheduled heartbeat');
  const early = rec.beatsOf(sick.id).find((h) => h.value.early === true && h.value.consecutiveFaults >= EARLY_FAULT_STREAK);
  assert.ok(early, 'it sent an early heartbeat when its fault streak reached the threshold');
  assert.ok(await waitFor(() => rec.beatsOf(sick.id).some((h) => h.value.state !== 'serving'), 5_000), 'its change of state is heard at once too');
  const failedAtDrain = load.result.failed.INTERNAL ?? 0;
  await sleep(1_000);
  const result = await load.stop();
  const failed = result.failed.INTERNAL ?? 0;
  t.diagnostic(`isolation: ${JSON.stringify({ failedAtDrain, failed, ok: result.ok, earlyToDrainMs: drain.at - early.at })}`);
  assert.ok(failed > 0, 'the sick worker did fail calls');
  assert.ok(failed <= GENEROUS_FAILED_CALLS, `failed calls are bounded: ${failed}`);
  assert.deepEqual(Object.keys(result.failed).filter((c) => c !== 'INTERNAL'), [], 'nothing else failed');
  assert.equal(rec.events.filter((e) => e.value.kind === 'drain').length, 1, 'only the sick worker is drained');
});

test('isolating at once keeps the drain budget: with every worker failing, only maxDrainPercent of them are drained', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using a = await spawnWard(nats.url, SLOW_HEARTBEAT);
  await using b = await spawnWard(nats.url, SLOW_HEARTBEAT);
  await using c = await spawnWard(nats.url, SLOW_HEARTBEAT);
  // 34% of 3 workers: one may be ejected at a time.
  await using sup = await spawnSupervisor(nats.url, { maxDrainPercent: 34 });
  void sup;
  assert.ok(await rec.waitServing('ward', 3), 'the supervisor sees 3 healthy workers');
  const client = await connect({ servers: nats.url, logger: quiet });
  try {
    await using load = startLoad(client, 'ward.work', () => null, { concurrency: 8, maxDurationMs: 60_000, call: { timeoutMs: 2_000 }, failurePauseMs: 5 });
    assert.ok(await waitFor(() => load.result.ok >= 200), 'load is flowing');
    for (const w of [a, b, c]) w.setMode('fail');
    const ids = [a.id, b.id, c.id];
    assert.ok(await waitFor(() => rec.eventsOf('drain').length >= 1 && rec.eventsOf('withheld').length >= 2, 8_000),
      `one drained, the rest withheld: ${JSON.stringify(rec.events.map((e) => [e.value.kind, e.value.workerId]))}`);
    await sleep(500);
    const drained = rec.eventsOf('drain').map((e) => e.value.workerId);
    assert.equal(drained.length, 1, `exactly one worker is drained (budget 1 of 3): ${JSON.stringify(drained)}`);
    assert.ok(ids.includes(drained[0]!));
    const withheld = new Set(rec.eventsOf('withheld').map((e) => e.value.workerId));
    assert.deepEqual([...withheld].sort(), ids.filter((id) => id !== drained[0]).sort(), 'the others are withheld, not drained');
    await load.stop();
  } finally {
    await client.close();
  }
});

test('a change of state is heartbeated at once: a quick drain shows draining then drained, and a resume serving, long before the next scheduled heartbeat', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using ward = await spawnWard(nats.url, SLOW_HEARTBEAT);
  assert.ok(await waitFor(() => rec.beatsOf(ward.id).length > 0, 10_000), 'its first heartbeat');
  const command = (cmd: string) => encode({ v: 1, id: `cmd-${cmd}-${Date.now()}`, cmd, target: ward.id, from: 'test', ts: Date.now() });
  const drainAck = decodeChecked((await rec.nc.request(controlSubject('rpc', 'ward', ward.id), command('drain'), { timeout: 5_000 })).data) as { ok: boolean };
  assert.equal(drainAck.ok, true);
  assert.ok(await waitFor(() => rec.beatsOf(ward.id).some((h) => h.value.state === 'drained'), 5_000), 'drained is heard without waiting 10 s');
  const states = () => rec.beatsOf(ward.id).map((h) => h.value.state);
  assert.deepEqual(states().slice(0, 3), ['serving', 'draining', 'drained'], 'never serving then drained');
  assert.ok(rec.beatsOf(ward.id).slice(1).every((h) => h.value.early === true), 'both sent early');
  const resumeAck = decodeChecked((await rec.nc.request(controlSubject('rpc', 'ward', ward.id), command('resume'), { timeout: 5_000 })).data) as { ok: boolean };
  assert.equal(resumeAck.ok, true);
  assert.ok(await waitFor(() => states().at(-1) === 'serving', 5_000), 'serving again is heard at once too');
  assert.ok(rec.beatsOf(ward.id).length <= 5, `no scheduled heartbeat needed, and no flood: ${states().join(', ')}`);
});

test('isolating at once never drains the last serving worker', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using a = await spawnWard(nats.url, SLOW_HEARTBEAT);
  await using b = await spawnWard(nats.url, SLOW_HEARTBEAT);
  await using sup = await spawnSupervisor(nats.url, { maxDrainPercent: 100 });
  void sup;
  assert.ok(await rec.waitServing('ward', 2), 'the supervisor sees 2 healthy workers');
  const client = await connect({ servers: nats.url, logger: quiet });
  try {
    await using load = startLoad(client, 'ward.work', () => null, { concurrency: 8, maxDurationMs: 60_000, call: { timeoutMs: 2_000 }, failurePauseMs: 5 });
    assert.ok(await waitFor(() => load.result.ok >= 100), 'load is flowing');
    a.setMode('fail');
    b.setMode('fail');
    assert.ok(await waitFor(() => rec.eventsOf('drain').length >= 1 && rec.eventsOf('withheld').length >= 1, 8_000),
      `one drained, the other withheld: ${JSON.stringify(rec.events.map((e) => [e.value.kind, e.value.workerId]))}`);
    await sleep(500);
    assert.equal(rec.eventsOf('drain').length, 1, 'one drained');
    const withheld = rec.eventsOf('withheld')[0]!.value;
    assert.notEqual(withheld.workerId, rec.eventsOf('drain')[0]!.value.workerId);
    assert.match(withheld.reason, /last serving worker/);
    assert.equal(withheld.code, 'consecutive_faults', 'the withheld drain carries its reason code');
    await load.stop();
  } finally {
    await client.close();
  }
});
