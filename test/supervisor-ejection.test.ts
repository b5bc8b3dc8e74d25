/**
 * The supervisor isolating a sick worker: drained fast, calls stop failing, resumed after its
 * ejection period; and the drain budget when a whole service fails. Real nats-server (shipped
 * config), real worker and supervisor processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { startNats } from './helpers/nats.js';
import { sleep, startLoad, waitFor, type Load } from './helpers/load.js';
import { BROKER_CONFIG, INTERVAL_MS, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';

const quiet = createLogger('test', 'silent');

test('supervisor item 2: a worker failing every call with INTERNAL among 3 healthy ones is drained within 3 heartbeat intervals, calls stop failing, and it is resumed after its ejection period', async (t) => {
  // Long enough that the drained worker is watched, still failing, well before it may come back.
  const BASE_EJECTION_MS = 4_000;
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using sick = await spawnWard(nats.url);
  await using w2 = await spawnWard(nats.url);
  await using w3 = await spawnWard(nats.url);
  await using w4 = await spawnWard(nats.url);
  await using sup = await spawnSupervisor(nats.url, { baseEjectionMs: BASE_EJECTION_MS });
  void [w2, w3, w4];
  assert.ok(await rec.waitServing('ward', 4), 'the supervisor sees 4 healthy workers');
  const client = await connect({ servers: nats.url, logger: quiet });
  let load: Load | undefined;
  try {
    load = startLoad(client, 'ward.work', () => null, { concurrency: 8, maxDurationMs: 30_000, call: { timeoutMs: 2_000 } });
    const result = load.result;
    assert.ok(await waitFor(() => result.ok >= 100), 'load is flowing');
    const failed = () => Object.values(result.failed).reduce((a, b) => a + b, 0);
    const failStart = Date.now();
    sick.setMode('fail');
    const drain = await rec.waitEvent('drain', sick.id, 10_000);
    assert.ok(drain, `the failing worker is drained: ${sup.lines.slice(-5).join('\n')}`);
    const detectionMs = drain.value.ts - failStart; // same host: the supervisor's clock is this one
    assert.match(drain.value.reason, /consecutive INTERNAL/);
    assert.ok(detectionMs <= 3 * INTERVAL_MS, `drained ${detectionMs} ms after the failures started (bound: 3 intervals = ${3 * INTERVAL_MS} ms)`);

    // Still failing: any call that reached it now would fail. Once it reports drained (the drain
    // acknowledged and carried out), it must receive none.
    assert.ok(await waitFor(() => rec.beatsOf(sick.id).some((h) => h.at > drain.at && h.value.state === 'drained'), 5_000), 'the worker obeys the drain');
    const drained = rec.beatsOf(sick.id).find((h) => h.at > drain.at && h.value.state === 'drained')!;
    const isolatedAt = Date.now();
    const failedAtIsolation = failed();
    const okAtIsolation = result.ok;
    await sleep(1_000);
    const stillOut = rec.beatsOf(sick.id).at(-1)!;
    assert.equal(rec.eventsOf('resume', sick.id).length, 0, 'observed while it was still ejected');
    assert.ok(stillOut.at > drained.at, 'a later heartbeat of the drained worker');
    assert.equal(stillOut.value.state, 'drained');
    assert.equal(stillOut.value.received, drained.value.received, 'the drained worker received no request');
    assert.equal(failed() - failedAtIsolation, 0, `no call fails once the worker is drained: ${JSON.stringify(result.failed)}`);
    assert.ok(result.ok > okAtIsolation + 50, 'the other workers keep serving');
    sick.setMode('ok'); // it recovers; it must still sit out the rest of its ejection period

    const resume = await rec.waitEvent('resume', sick.id, BASE_EJECTION_MS + 5_000);
    assert.ok(resume, 'the recovered worker is resumed');
    // Both times by the supervisor's clock: what it decided, not when this busy test process heard it.
    const ejectedMs = resume.value.ts - drain.value.ts;
    const until = drain.value.figures!.until as number;
    assert.ok(until - drain.value.ts > BASE_EJECTION_MS - 500, 'the drain event states the end of the ejection period');
    assert.ok(resume.value.ts >= until, `resumed only after its ejection period (${ejectedMs} ms, until ${until})`);
    assert.ok(ejectedMs <= BASE_EJECTION_MS + 4 * INTERVAL_MS + 500, `resumed soon after its ejection period (${ejectedMs} ms)`);
    assert.ok(
      await waitFor(() => rec.beatsOf(sick.id).some((h) => h.at > resume.at && h.value.state === 'serving' && h.value.ok > 0), 5_000),
      'the resumed worker serves again',
    );
    const okBeforeResume = rec.beatsOf(sick.id).filter((h) => h.at <= resume.at).at(-1)!.value.ok;
    assert.ok(await waitFor(() => rec.beatsOf(sick.id).at(-1)!.value.ok > okBeforeResume, 5_000), 'and takes calls');
    const final = await load.stop();
    t.diagnostic(`item 2: detection (failures start -> drain event) ${detectionMs} ms; drained worker isolated (state drained) ${isolatedAt - failStart} ms after failures start; ejected for ${ejectedMs} ms (base ${BASE_EJECTION_MS}); failed calls in all ${JSON.stringify(final.failed)}`);
  } finally {
    await load?.stop().catch(() => undefined);
    await client.close();
  }
});

test('supervisor item 3: maxDrainPercent: when all 4 workers of a service fail, at most half are drained and never all', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using w1 = await spawnWard(nats.url);
  await using w2 = await spawnWard(nats.url);
  await using w3 = await spawnWard(nats.url);
  await using w4 = await spawnWard(nats.url);
  const wards = [w1, w2, w3, w4];
  // A long ejection period: the drained ones stay out for the whole observation.
  await using sup = await spawnSupervisor(nats.url, { baseEjectionMs: 60_000, maxDrainPercent: 50 });
  assert.ok(await rec.waitServing('ward', 4), 'the supervisor sees 4 healthy workers');
  const client = await connect({ servers: nats.url, logger: quiet });
  let load: Load | undefined;
  try {
    load = startLoad(client, 'ward.work', () => null, { concurrency: 8, maxDurationMs: 30_000, call: { timeoutMs: 2_000 } });
    const result = load.result;
    assert.ok(await waitFor(() => result.ok >= 50), 'load is flowing');
    for (const w of wards) w.setMode('fail');
    assert.ok(await waitFor(() => rec.eventsOf('drain').length >= 2, 5_000), `two workers are drained: ${sup.lines.slice(-5).join('\n')}`);
    await sleep(8 * INTERVAL_MS); // plenty of further evaluations under failing load
    await load.stop();
    const drained = new Set(rec.eventsOf('drain').map((e) => e.value.workerId));
    assert.equal(drained.size, 2, `exactly half of the workers are drained: ${[...drained].join(', ')}`);
    assert.equal(rec.eventsOf('shutdown').length, 0);
    const withheld = rec.eventsOf('withheld');
    assert.ok(withheld.length >= 1, 'the spared workers are logged as withheld');
    assert.match(withheld[0]!.value.reason, /maxDrainPercent 50 reached|last serving worker/);
    // The withheld event above is the typed signal; its log line comes over a pipe that can trail the bus.
    assert.ok(await waitFor(() => sup.lines.some((l) => l.includes('"decision":"withheld"')), 5_000), 'the withheld drain is a structured log line');
    // At no time did more than 2 workers report a state other than serving.
    const latest = new Map<string, string>();
    let maxOut = 0;
    for (const h of rec.heartbeats) {
      latest.set(h.value.id, h.value.state);
      maxOut = Math.max(maxOut, [...latest.values()].filter((s) => s !== 'serving').length);
    }
    assert.ok(maxOut <= 2, `at most 2 workers out at any time (saw ${maxOut})`);
    const status = await rec.status();
    const serving = status.services.find((s) => s.service === 'ward')!.workers.filter((w) => w.state === 'serving');
    assert.equal(serving.length, 2, 'two workers still serve');
  } finally {
    await load?.stop().catch(() => undefined);
    await client.close();
  }
});
