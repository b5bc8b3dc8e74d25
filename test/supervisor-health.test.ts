/**
 * What counts against a worker and what does not: business errors and bad requests never do;
 * a handler that ignores its abort signal past the deadline does. Real processes and broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { startNats } from './helpers/nats.js';
import { sleep, startLoad, waitFor, type Load } from './helpers/load.js';
import { BROKER_CONFIG, INTERVAL_MS, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';

const quiet = createLogger('test', 'silent');

test('supervisor item 4: business errors at any rate, and bad requests, never get a worker drained', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using rejecting = await spawnWard(nats.url, [], 'business');
  await using w2 = await spawnWard(nats.url);
  await using sup = await spawnSupervisor(nats.url);
  assert.ok(await rec.waitServing('ward', 2), 'the supervisor sees 2 healthy workers');
  const client = await connect({ servers: nats.url, logger: quiet });
  let load: Load | undefined;
  try {
    load = startLoad(client, 'ward.work', () => null, { concurrency: 8, maxDurationMs: 30_000, call: { timeoutMs: 2_000 } });
    // Undecodable requests on the side: each worker answers BAD_REQUEST.
    for (let i = 0; i < 200; i++) rec.nc.publish('rpc.ward.work', new Uint8Array([0xc1, i & 0xff]), { reply: `_INBOX.junk.${i}` });
    await sleep(8 * INTERVAL_MS);
    const result = await load.stop();
    assert.ok((result.failed.REJECTED ?? 0) > 100, `many business rejections: ${JSON.stringify(result.failed)}`);
    const beat = rec.beatsOf(rejecting.id).at(-1)!.value;
    assert.ok((beat.failed.REJECTED ?? 0) > 100 && (beat.failed.BAD_REQUEST ?? 0) > 0, `counted by the worker: ${JSON.stringify(beat.failed)}`);
    assert.equal(beat.consecutiveFaults, 0);
    assert.deepEqual(rec.events.filter((e) => ['drain', 'withheld', 'shutdown'].includes(e.value.kind)).map((e) => e.value.reason), []);
    const workers = (await rec.status()).services.find((s) => s.service === 'ward')!.workers;
    assert.deepEqual(workers.map((w) => [w.state, w.health]), [['serving', 'healthy'], ['serving', 'healthy']]);
    void sup;
    void w2;
  } finally {
    await load?.stop().catch(() => undefined);
    await client.close();
  }
});

test('supervisor item 6: a handler that ignores its abort signal is reported overdue and its worker drained', async (t) => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using hanging = await spawnWard(nats.url);
  await using w2 = await spawnWard(nats.url);
  await using sup = await spawnSupervisor(nats.url);
  assert.ok(await rec.waitServing('ward', 2), 'the supervisor sees 2 healthy workers');
  const client = await connect({ servers: nats.url, logger: quiet });
  let load: Load | undefined;
  try {
    load = startLoad(client, 'ward.work', () => null, { concurrency: 4, maxDurationMs: 30_000, call: { timeoutMs: 300 } });
    const result = load.result;
    assert.ok(await waitFor(() => result.ok >= 50), 'load is flowing');
    const hangStart = Date.now();
    hanging.setMode('hang');
    const drain = await rec.waitEvent('drain', hanging.id, 5_000);
    assert.ok(drain, `the worker with an overdue handler is drained: ${sup.lines.slice(-5).join('\n')}`);
    assert.match(drain.value.reason, /running past their deadline/);
    assert.ok(rec.beatsOf(hanging.id).some((h) => h.value.overdue > 0), 'its heartbeat reported overdue handlers');
    assert.equal(rec.eventsOf('drain', w2.id).length, 0, 'the healthy worker stays');
    await load.stop();
    t.diagnostic(`item 6: hang starts -> drain event ${drain.at - hangStart} ms (the first overrun is due 300 ms after the hang starts)`);
  } finally {
    await load?.stop().catch(() => undefined);
    await client.close();
  }
});
