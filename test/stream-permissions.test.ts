/**
 * Server streams under the shipped least-privilege identities (config/nats/cluster.conf +
 * accounts.conf): a `caller` streams from a worker process running as the `echo` service identity.
 * The worker may hear only its own service's credit subject (`rpc._credit.echo.<worker>`), the
 * caller may publish credit there, and a stream of far more item frames than the per-request
 * `allow_responses` count of a plain call arrives complete: each credit the caller publishes names
 * the stream's reply subject and so renews the worker's permission to answer there. A stream that
 * outlasts `allow_responses`' `expires` (here a copy of the shipped config with 25 s in place of
 * 1 minute) arrives complete too: the caller moves it to a fresh reply subject of its inbox.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { connectAs, refusedSubscriptions, serviceEnv } from './helpers/attack.js';
import { CLUSTER_CONFIG, identity, startSingleNode } from './helpers/cluster.js';
import { closing } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';
import { spawnWorker, workerIdOf } from './helpers/processes.js';
import { STREAM_REPLY_MOVE_MS } from '../src/client/stream-replies.js';

const quiet = createLogger('test', 'silent');


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
  assert.ok(await waitFor(() => mathRefused.length === 2, 15_000), `refused: math ${mathRefused}`);

  // A small window: credit every 8 items read, frames of one item or a few.
  let next = 0;
  for await (const item of caller.stream<{ i: number }>('echo.count', { n: 3_000 }, { window: { items: 16 }, timeoutMs: 60_000 })) {
    assert.equal(item.i, next);
    next++;
  }
  assert.equal(next, 3_000);
});

test('a stream that outlasts allow_responses\' expires arrives complete: the caller moves it to a fresh reply subject', async (t) => {
  // The shipped identities with the reply permission expiring after 25 s instead of 1 minute.
  const dir = mkdtempSync(join(tmpdir(), 'streamperm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const accounts = readFileSync(join(CLUSTER_CONFIG, '..', 'accounts.conf'), 'utf8');
  const shorter = accounts.replaceAll('expires: "1m"', 'expires: "25s"');
  assert.notEqual(shorter, accounts, 'the shipped accounts.conf sets expires: "1m"');
  writeFileSync(join(dir, 'accounts.conf'), shorter);
  writeFileSync(join(dir, 'cluster.conf'), readFileSync(CLUSTER_CONFIG, 'utf8'));
  assert.ok(STREAM_REPLY_MOVE_MS < 25_000, 'the stream moves before the permission expires');
  await using nats = await startSingleNode(join(dir, 'cluster.conf'));
  await using _worker = await spawnWorker('test/fixtures/echo-streamer.ts', nats.url, [], serviceEnv('echo'));
  await using caller = closing(await connect({ servers: nats.url, ...identity('caller'), logger: quiet }), (c) => c.close());
  // 64 items 500 ms apart: 32 s, past the 25 s for which the request's reply subject is open.
  const started = performance.now();
  let next = 0;
  for await (const item of caller.stream<{ i: number }>('echo.tick', { n: 64, everyMs: 500 }, { timeoutMs: 90_000, idleTimeoutMs: 10_000 })) {
    assert.equal(item.i, next);
    next++;
  }
  assert.equal(next, 64);
  t.diagnostic(`64 items over ${Math.round(performance.now() - started)} ms`);
});
