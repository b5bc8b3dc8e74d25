/**
 * Server streams under the shipped least-privilege identities (config/nats/cluster.conf +
 * accounts.conf): a `caller` streams from a worker process running as the `echo` service identity.
 * The worker may hear only its own service's credit subject (`rpc._credit.echo.<worker>`), the
 * caller may publish credit there, and a stream of far more item frames than the per-request
 * `allow_responses` count of a plain call arrives complete: each credit the caller publishes names
 * the stream's reply subject and so renews the worker's permission to answer there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { connectAs, serviceEnv } from './helpers/attack.js';
import { identity, startSingleNode } from './helpers/cluster.js';
import { closing } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';
import { spawnWorker, workerIdOf } from './helpers/processes.js';

const quiet = createLogger('test', 'silent');

/** The subscriptions the broker refuses to a connection. */
function refusedSubscriptions(nc: NatsConnection): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
      if (s.type === 'error' && ctx?.operation === 'subscription') seen.push(ctx.subject);
    }
  })();
  return seen;
}

test('a stream of 3,000 items in over 100 frames arrives complete under the shipped identities; only echo hears echo\'s credit', async () => {
  await using nats = await startSingleNode();
  const url = nats.url;
  await using worker = await spawnWorker('test/fixtures/echo-streamer.ts', url, [], serviceEnv('echo'));
  const workerId = workerIdOf(worker);
  await using caller = closing(await connect({ servers: url, ...identity('caller'), logger: quiet }), (c) => c.close());

  // Another service's credential may not hear (so may not steal or blind) echo's credit.
  await using math = await connectAs(url, 'math');
  const mathRefused = refusedSubscriptions(math);
  math.subscribe('rpc._credit.echo.*');
  math.subscribe(`rpc._credit.echo.${workerId}`);
  await math.flush();
  assert.ok(await waitFor(() => mathRefused.length === 2, 3_000), `refused: math ${mathRefused}`);

  // A small window: credit every 8 items read, frames of one item or a few.
  let next = 0;
  for await (const item of caller.stream<{ i: number }>('echo.count', { n: 3_000 }, { window: { items: 16 }, timeoutMs: 60_000 })) {
    assert.equal(item.i, next);
    next++;
  }
  assert.equal(next, 3_000);
});
