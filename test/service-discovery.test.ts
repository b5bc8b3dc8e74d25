/**
 * NATS micro interop: the `nats` package's own service client (which this project did not write)
 * discovers every running natsrpc worker through $SRV.PING/INFO/STATS and reads stats that match
 * the calls made.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestStrategy, type ServiceClient } from 'nats';
import { connect, startWorker } from '../src/index.js';
import { openConnection } from '../src/connection/options.js';
import { createLogger } from '../src/logging/logger.js';
import echo from '../workers/echo.js';
import math from '../workers/math.js';
import { startNats } from './helpers/nats.js';

const quiet = createLogger('test', 'silent');

async function collect<T>(responses: Promise<AsyncIterable<unknown>>): Promise<T[]> {
  const out: T[] = [];
  for await (const r of await responses) out.push(r as T);
  return out;
}

interface Stats {
  name: string;
  id: string;
  version: string;
  type: string;
  started: string;
  metadata: Record<string, string>;
  endpoints: { name: string; subject: string; queue_group: string; num_requests: number; num_errors: number; last_error: string; processing_time: number }[];
}

test('nc.services.client() discovers every worker and reads stats matching the calls made', async () => {
  await using nats = await startNats();
  const workers = [
    await startWorker(math, { servers: nats.url, logger: quiet }),
    await startWorker(math, { servers: nats.url, logger: quiet }),
    await startWorker(echo, { servers: nats.url, logger: quiet }),
  ];
  const client = await connect({ servers: nats.url, logger: quiet });
  const nc = await openConnection({ servers: nats.url });
  // Wait for exactly as many answers as there are workers (a wrong count fails by time-out).
  const services = (n: number): ServiceClient => nc.services.client({ strategy: RequestStrategy.Count, maxMessages: n, maxWait: 5_000 });
  try {
    for (let i = 0; i < 10; i++) await client.call('math.add', { a: i, b: i });
    await client.call('math.div', { a: 1, b: 2 });
    await assert.rejects(client.call('math.div', { a: 1, b: 0 }));
    await client.call('echo.echo', 'hi');

    const pings = await collect<{ name: string; id: string; version: string; type: string }>(services(3).ping());
    assert.deepEqual(pings.map((p) => p.id).sort(), workers.map((w) => w.id).sort());
    assert.ok(pings.every((p) => p.type === 'io.nats.micro.v1.ping_response' && p.version === '1.0.0'));
    assert.equal((await collect(services(2).ping('math'))).length, 2);
    const one = await collect<{ id: string }>(services(1).ping('math', workers[1]!.id));
    assert.deepEqual(one.map((p) => p.id), [workers[1]!.id]);

    const [info] = await collect<{ name: string; endpoints: { name: string; subject: string; queue_group: string }[] }>(services(1).info('echo'));
    assert.equal(info!.name, 'echo');
    assert.deepEqual(info!.endpoints, [{ name: 'echo', subject: 'rpc.echo.echo', queue_group: 'echo', metadata: null }]);

    const stats = await collect<Stats>(services(2).stats('math'));
    assert.equal(stats.length, 2);
    const total = (name: string, field: 'num_requests' | 'num_errors') =>
      stats.reduce((sum, s) => sum + s.endpoints.find((e) => e.name === name)![field], 0);
    assert.equal(total('add', 'num_requests'), 10);
    assert.equal(total('div', 'num_requests'), 2);
    assert.equal(total('div', 'num_errors'), 1);
    assert.equal(total('add', 'num_errors'), 0);
    assert.ok(stats.some((s) => s.endpoints.find((e) => e.name === 'div')!.last_error.startsWith('DIVIDE_BY_ZERO')));
    for (const s of stats) {
      const worker = workers.find((w) => w.id === s.id)!;
      const handled = s.endpoints.reduce((sum, e) => sum + e.num_requests, 0);
      assert.equal(handled, worker.stats.ok + (worker.stats.failed.get('DIVIDE_BY_ZERO') ?? 0), `stats of ${s.id} match the worker's own`);
      assert.equal(s.metadata['natsrpc.state'], 'serving');
      assert.ok(!Number.isNaN(Date.parse(s.started)));
    }

    // A drained worker still answers discovery and says so; a stopped one no longer answers.
    await workers[0]!.drain();
    const [drained] = await collect<Stats>(services(1).ping('math', workers[0]!.id));
    assert.equal(drained!.metadata['natsrpc.state'], 'drained');
    await workers[0]!.stop();
    const left = await collect<{ id: string }>(nc.services.client({ strategy: RequestStrategy.Timer, maxWait: 500 }).ping());
    assert.deepEqual(left.map((p) => p.id).sort(), [workers[1]!.id, workers[2]!.id].sort());
  } finally {
    await nc.close();
    await client.close();
    await Promise.all(workers.map((w) => w.stop()));
  }
});
