/**
 * The supervisor isolating sick workers: draining a failing worker fast and resuming it after its
 * ejection period, the drain budget, business errors that never count, and overdue handlers.
 * Real nats-server (shipped config), real worker and supervisor processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { startNats } from './helpers/nats.js';
import { sleep, startLoad, waitFor } from './helpers/load.js';
import { BROKER_CONFIG, INTERVAL_MS, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';

const quiet = createLogger('test', 'silent');

test('supervisor item 2: a worker failing every call with INTERNAL among 3 healthy ones is drained within 3 heartbeat intervals, calls stop failing, and it is resumed after its ejection period', async (t) => {
  const BASE_EJECTION_MS = 2_000;
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using sick = await spawnWard(nats.url);
  await using w2 = await spawnWard(nats.url);
  await using w3 = await spawnWard(nats.url);
  await using w4 = await spawnWard(nats.url);
  await using sup = await spawnSupervisor(nats.url, { baseEjectionMs: BASE_EJECTION_MS });
  assert.ok(await rec.waitServing('ward', 4), 'the supervisor sees 4 healthy workers');
  const client = await connect({ servers: nats.url, logger: quiet });
  try {
    const failuresAt: number[] = [];
    const load = startLoad(client, 'ward.work', () => null, { concurrency: 8, maxDurationMs: 30_000, call: { timeoutMs: 2_000 } });
    assert.ok(await waitFor(() => load.result.ok >= 100), 'load is flowing');
    const failedBefore = () => Object.values(load.result.failed).reduce((a, b) => a + b, 0);
    const failStart = Date.now();
    sick.setMode('fail');
    const drain = await rec.waitEvent('drain', sick.id, 10_000);
    assert.ok(drain, `the failing worker is drained: ${sup.lines.slice(-5).join('\n')}`);
    const detectionMs = drain.at - failStart;
    assert.match(drain.value.reason, /consecutive INTERNAL/);
    assert.ok(detectionMs <= 3 * INTERVAL_MS, `drained ${detectionMs} ms after the failures started (bound: 3 intervals = ${3 * INTERVAL_MS} ms)`);
    sick.setMode('ok'); // it recovers at once; it must still sit out its ejection period

    // Calls sent from now on (fresh ones) go to the 3 healthy workers only.
    await waitFor(() => rec.beatsOf(sick.id).some((h) => h.at > drain.at && h.value.state === 'drained'), 3_000);
    const isolatedAt = Date.now();
    const failedAtIsolation = failedBefore();
    const okAtIsolation = load.result.ok;
    await sleep(1_000);
    failuresAt.push(failedBefore() - failedAtIsolation);
    assert.equal(failedBefore() - failedAtIsolation, 0, `no call fails once the worker is drained: ${JSON.stringify(load.result.failed)}`);
    assert.ok(load.result.ok > okAtIsolation + 50, 'the other workers keep serving');

    const resume = await rec.waitEvent('resume', sick.id, BASE_EJECTION_MS + 5_000);
    assert.ok(resume, 'the recovered worker is resumed');
    const ejectedMs = resume.at - drain.at;
    assert.ok(ejectedMs >= BASE_EJECTION_MS - 50, `resumed only after its ejection period (${ejectedMs} ms)`);
    assert.ok(ejectedMs <= BASE_EJECTION_MS + 4 * INTERVAL_MS + 500, `resumed soon after its ejection period (${ejectedMs} ms)`);
    assert.ok(
      await waitFor(() => rec.beatsOf(sick.id).some((h) => h.at > resume.at && h.value.state === 'serving' && h.value.ok > 0), 5_000),
      'the resumed worker serves again',
    );
    const okBeforeResume = rec.beatsOf(sick.id).filter((h) => h.at <= resume.at).at(-1)!.value.ok;
    assert.ok(await waitFor(() => rec.beatsOf(sick.id).at(-1)!.value.ok > okBeforeResume, 5_000), 'and takes calls');
    const result = await load.stop();
    t.diagnostic(`item 2: detection (failures start -> drain event) ${detectionMs} ms; drained worker isolated (state drained) ${isolatedAt - failStart} ms after failures start; ejected for ${ejectedMs} ms (base ${BASE_EJECTION_MS}); failed calls in all ${JSON.stringify(result.failed)}`);
  } finally {
    await client.close();
  }
});
