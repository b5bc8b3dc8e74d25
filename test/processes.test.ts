/**
 * Worker processes under the broker's balancing: spreading load, and draining on SIGTERM under a
 * steady load without losing a call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { closing, startNats } from './helpers/nats.js';
import { spawnWorker, workerIdOf } from './helpers/processes.js';
import { openConnection } from '../src/connection/options.js';
import { decodeChecked } from '../src/protocol/codec.js';
import type { WorkerHeartbeat } from '../src/protocol/heartbeat.js';
import { heartbeatSubject } from '../src/protocol/subjects.js';
import { sleep, startLoad, waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');

test('balancing: 3 worker processes, 300 calls, every worker serves some and none more than 60% (item 2)', async () => {
  await using nats = await startNats();
  await using w1 = await spawnWorker('test/fixtures/probe.ts', nats.url);
  await using w2 = await spawnWorker('test/fixtures/probe.ts', nats.url);
  await using w3 = await spawnWorker('test/fixtures/probe.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());
  const counts = new Map<number, number>([[w1.pid, 0], [w2.pid, 0], [w3.pid, 0]]);
  for (let batch = 0; batch < 30; batch++) {
    const replies = await Promise.all(Array.from({ length: 10 }, () => client.call<{ pid: number }>('probe.whoami')));
    for (const { pid } of replies) counts.set(pid, (counts.get(pid) ?? 0) + 1);
  }
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), 300);
  assert.equal(counts.size, 3, `only the 3 workers answer: ${JSON.stringify([...counts])}`);
  for (const [pid, n] of counts) {
    assert.ok(n > 0, `worker ${pid} served nothing`);
    assert.ok(n <= 180, `worker ${pid} served ${n} of 300`);
  }
});

test('graceful drain: SIGTERM one of two workers under steady load: zero failed calls, exit 0 (item 9)', async (t) => {
  await using nats = await startNats();
  await using w1 = await spawnWorker('test/fixtures/probe.ts', nats.url);
  await using w2 = await spawnWorker('test/fixtures/probe.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());
  // The states w1 reports in its heartbeats: the typed record of its drain.
  await using hb = closing(await openConnection({ servers: nats.url }), (c) => c.close());
  const states: string[] = [];
  hb.subscribe(heartbeatSubject('rpc', 'probe', workerIdOf(w1)), { callback: (_e, m) => states.push((decodeChecked(m.data) as WorkerHeartbeat).state) });
  await hb.flush();
  // Calls take 20 ms so the drained worker always holds some in flight when it is told to go.
  await using load = startLoad(client, 'probe.sleep', () => ({ ms: 20 }), { concurrency: 16, maxDurationMs: 20_000 });
  assert.ok(await waitFor(() => load.result.ok >= 200), 'load is flowing');
  const servedAfterSignal = load.result.ok;
  w1.signal('SIGTERM');
  const exit = await w1.exited;
  const servedAfter = load.result.ok;
  await sleep(500);
  const result = await load.stop();
  t.diagnostic(`${result.ok} calls ok, ${Object.values(result.failed).reduce((a, b) => a + b, 0)} failed; SIGTERM after ${servedAfterSignal} calls`);
  assert.deepEqual(exit, { code: 0, signal: null }, `drained worker exits 0: ${w1.stderr.join('\n')}`);
  assert.deepEqual(result.failed, {}, `no call fails: ${result.errors.map((e) => e.message).join('; ')}`);
  assert.ok(result.ok > servedAfter, 'the other worker kept serving');
  // Its heartbeats say `draining`, then `stopped` (the final one, sent once the drain is done).
  const drainedThenStopped = () => states.includes('draining') && states.lastIndexOf('stopped') > states.indexOf('draining');
  assert.ok(await waitFor(drainedThenStopped, 5_000), `the worker drained before exiting (heartbeat states: ${states.join(', ')})`);
  assert.equal(w2.child.exitCode, null);
});
