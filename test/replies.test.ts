/**
 * What a caller learns from a worker's reply: a request the worker cannot read is answered with
 * BAD_REQUEST at once (not a timeout), and a refusal code raised after a handler started is marked
 * as possibly processed, so only idempotent calls send it again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, defineWorker, RpcError, startWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { checkHeartbeat, MAX_FAILED_CODES, OTHER_CODES } from '../src/protocol/heartbeat.js';
import { WorkerStats } from '../src/worker/stats.js';
import { closing, startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');

function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

test('a request over the decoding limits gets BAD_REQUEST from the worker, not a timeout', async () => {
  await using nats = await startNats();
  let ran = 0;
  await using _worker = closing(
    // Limits below the defaults: a caller refuses values beyond the default ones before sending
    // (value-check.ts), so only a worker with stricter limits sees such requests.
    await startWorker(defineWorker({ service: 'limits', methods: { take: () => ++ran } }), {
      servers: nats.url, logger: quiet, heartbeat: false, limits: { maxDepth: 8, maxElements: 1_000 },
    }),
    (w) => w.stop(),
  );
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());
  for (const [what, payload] of [['1,001 array elements', new Array(1_001).fill(0)], ['nesting 10 deep', nested(10)]] as const) {
    for (const idempotent of [false, true]) {
      const started = performance.now();
      const err = await client.call('limits.take', payload, { timeoutMs: 10_000, idempotent }).then(
        () => assert.fail(`${what}: the call should fail`),
        (e: unknown) => e as RpcError,
      );
      assert.ok(err instanceof RpcError, String(err));
      assert.equal(err.code, 'BAD_REQUEST', `${what} (idempotent ${idempotent}): ${err.message}`);
      assert.match(err.message, /malformed message/);
      assert.ok(performance.now() - started < 5_000, `${what}: answered, not waited out until the 10 s deadline`);
    }
  }
  assert.equal(ran, 0, 'no handler ran');
  assert.equal(client.lateReplies, 0, 'the id-less refusals were matched to their calls by reply subject');
});

test('a handler that started and then fails with a refusal code is not retried unless the call is idempotent', async () => {
  await using nats = await startNats();
  const ran = { busy: 0, slow: 0 };
  // A handler that passes on an overload from further down, after it may have done some work.
  const def = defineWorker({
    service: 'chain',
    methods: {
      busy: () => {
        ran.busy++;
        throw new RpcError('OVERLOADED', 'the store behind this handler is full');
      },
      slow: async (_p: unknown, ctx) => {
        ran.slow++;
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        throw ctx.abortReason;
      },
    },
  });
  await using a = closing(await startWorker(def, { servers: nats.url, logger: quiet, heartbeat: false, drainTimeoutMs: 300 }), (w) => w.stop());
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());

  const plain = await client.call('chain.busy', null).catch((e: RpcError) => e);
  assert.ok(plain instanceof RpcError);
  assert.equal(plain.code, 'OVERLOADED');
  assert.equal(plain.retryable, false, 'the worker marks it: the handler had started');
  assert.equal(plain.maybeProcessed, true);
  assert.equal(ran.busy, 1, 'a plain call is not sent again');

  ran.busy = 0;
  await client.call('chain.busy', null, { idempotent: true, retry: { maxAttempts: 3, initialBackoffMs: 1 } }).catch(() => undefined);
  assert.equal(ran.busy, 3, 'an idempotent call may be sent again');

  // A drain that times out aborts the handlers still running: their DRAINING may follow work done.
  const pending = client.call('chain.slow', null, { timeoutMs: 10_000 }).catch((e: RpcError) => e);
  assert.ok(await waitFor(() => a.inFlight === 1, 5_000));
  await a.drain();
  const drained = await pending;
  assert.ok(drained instanceof RpcError);
  assert.equal(drained.code, 'DRAINING');
  assert.equal(drained.maybeProcessed, true);
  assert.equal(ran.slow, 1, 'not sent again: it may have been processed');
});

test('a worker that sees more distinct failure codes than a heartbeat holds counts the rest together, keeping every framework code', () => {
  const stats = new WorkerStats();
  for (let i = 0; i < 100; i++) stats.fail(`APP_CODE_${i}`);
  stats.fail('INTERNAL');
  stats.fail('OVERLOADED');
  stats.fail('APP_CODE_0');
  const failed = stats.snapshot(0).failed;
  assert.ok(Object.keys(failed).length <= MAX_FAILED_CODES, `${Object.keys(failed).length} keys`);
  assert.equal(failed.INTERNAL, 1);
  assert.equal(failed.OVERLOADED, 1);
  assert.equal(failed.APP_CODE_0, 2, 'a code already counted keeps its own counter');
  const total = Object.values(failed).reduce((a, b) => a + b, 0);
  assert.equal(total, 103, 'nothing is lost');
  assert.ok((failed[OTHER_CODES] ?? 0) > 0);
  assert.equal(stats.consecutiveFaults, 0, 'the business rejection after INTERNAL reset the fault streak');
  // The supervisor accepts the heartbeat that carries it.
  const hb = {
    v: 1, id: 'w-1', service: 's', version: '1', host: 'h', pid: 1, serverId: 'S', clientId: 1, state: 'serving', startedAt: 1,
    intervalMs: 1_000, inFlight: 0, concurrency: 1, received: 103, ok: 0, failed, expired: 0, overruns: 0, consecutiveFaults: 0,
    p50Ms: 0, p99Ms: 0, loopDelayP99Ms: 0, rssBytes: 1, overdue: 0, healthy: null, seq: 1, ts: 1, stalledMs: 0,
  };
  assert.equal(checkHeartbeat(hb), null);
});
