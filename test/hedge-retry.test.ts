/**
 * A hedge that goes out while a retry is scheduled takes that retry's place, against a real broker
 * and worker: the worker never receives more attempts of a call than its limits allow.
 * (call-engine.test.ts checks the same with a fake clock, and that no timer outlives the call.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { connect, defineWorker, RpcError, startWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { closing, startNats } from './helpers/nats.js';
import { sleep } from './helpers/load.js';

const quiet = createLogger('test', 'silent');

test('hedging: a hedge sent while a retry waits supersedes it; the worker gets no attempt beyond the limits, during or after the call', async (t) => {
  await using nats = await startNats();
  const HOLD_MS = 2_500;
  /** The attempt numbers the worker received, in order. */
  const received: number[] = [];
  const worker = defineWorker({
    service: 'hr',
    methods: {
      work: async (_input: unknown, ctx) => {
        received.push(ctx.attempt);
        // The second attempt (the first hedge) is refused at once and retryably, while the first
        // is still out: the call schedules a retry. Every other attempt takes HOLD_MS.
        if (ctx.attempt === 2) throw new RpcError('UNAVAILABLE', 'busy');
        await sleepFor(HOLD_MS, undefined, { signal: ctx.signal }).catch(() => undefined);
        return ctx.attempt;
      },
    },
  });
  await using _w = closing(await startWorker(worker, { servers: nats.url, logger: quiet }), (w) => w.stop());
  await using client = closing(await connect({ servers: nats.url, logger: quiet, retryBudget: { ratio: 1, burst: 50 } }), (c) => c.close());
  // The retry's jittered backoff is then half its cap (1 000 ms): due well after the second hedge
  // (at 200 ms) and before the first attempt's answer (HOLD_MS), where a forgotten retry timer
  // sent a 4th attempt.
  t.mock.method(Math, 'random', () => 0.5);
  const result = await client.call('hr.work', null, {
    idempotent: true,
    timeoutMs: 8_000,
    hedge: { delayMs: 100, maxAttempts: 3 },
    retry: { maxAttempts: 3, initialBackoffMs: 500, backoffMultiplier: 2, maxBackoffMs: 4_000 },
  });
  t.mock.restoreAll();
  assert.ok(result === 1 || result === 3, `answered by a held attempt: ${String(result)}`);
  // A retry timer left behind would fire by 100 + 1 000 ms after the call began.
  await sleep(1_500);
  assert.deepEqual(received, [1, 2, 3], 'three attempts (hedge.maxAttempts and retry.maxAttempts), no more');
});
