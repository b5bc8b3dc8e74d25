/**
 * `natsrpc dev` on a shared broker (NATS_URL set) runs under a prefix of its own: its demo calls
 * never reach a real fleet's workers, and the fleet's calls never reach the demo's workers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, startWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import math from '../workers/math.js';
import { closing, startNats } from './helpers/nats.js';
import { ChildHandle } from './helpers/processes.js';

const quiet = createLogger('test', 'silent');

test('dev with NATS_URL does not join the real math queue group', async () => {
  await using nats = await startNats();
  await using real = closing(await startWorker(math, { servers: nats.url, logger: quiet }), (w) => w.stop());
  await using dev = new ChildHandle(['dev'], { NATS_URL: nats.url, LOG_LEVEL: 'warn' });
  const using = await dev.waitForLine(/^Using the broker at NATS_URL=/, 60_000);
  assert.match(using, /prefix "dev-[0-9a-f]{8}"/);
  await dev.waitForLine(/^Serving on /, 120_000);
  assert.ok(dev.lines.some((l) => /^Balancing: 200 concurrent math\.add calls, all correct/.test(l)), dev.lines.join('\n'));
  assert.equal(real.stats.ok, 0, "none of the demo's calls reached the real worker");

  await using client = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());
  for (let i = 0; i < 30; i++) assert.equal(await client.call('math.add', { a: i, b: 1 }), i + 1);
  assert.equal(real.stats.ok, 30, 'every call of the real fleet reached the real worker');
  dev.signal('SIGTERM');
  assert.equal((await dev.exited).code, 0);
});
