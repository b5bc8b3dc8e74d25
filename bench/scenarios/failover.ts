/**
 * Scenario 4: failover. 3 workers (2 ms I/O handler) under a closed loop of 24 calls in flight;
 * one is killed with SIGKILL. Counts the calls that failed and the time until throughput is back
 * to 90% of what the 2 survivors then sustain. No client retries: calls the dead worker held
 * end at their timeout (1 s), which is what bounds the recovery.
 */
import type { Ctx } from '../lib/context.js';
import { mean, median } from '../lib/context.js';
import { stopAll } from '../lib/ipc.js';
import { int, ratio, type Scenario } from './types.js';

const DELAY_MS = 2;
/** Above what one worker can be routed here at once: only the kill causes failures. */
const CONCURRENCY = 64;
const IN_FLIGHT = 24;
const TIMEOUT_MS = 1_000;
const BUCKET_MS = 50;
/** Throughput is judged on a moving window of this many buckets (200 ms). */
const WINDOW = 4;

export interface FailoverRun {
  failed: Record<string, number>;
  beforeRps: number;
  afterRps: number;
  recoveryMs: number;
  buckets: number[];
  killAtMs: number;
}

export function analyse(buckets: number[], killAtMs: number, failed: Record<string, number>): FailoverRun {
  const perSec = 1000 / BUCKET_MS;
  const killIdx = Math.floor(killAtMs / BUCKET_MS);
  const tail = buckets.slice(-Math.max(WINDOW, Math.floor(1000 / BUCKET_MS)) - 1, -1); // last full second
  const afterRps = mean(tail) * perSec;
  const beforeRps = mean(buckets.slice(1, killIdx)) * perSec;
  let recoveryMs = NaN;
  for (let i = killIdx; i + WINDOW <= buckets.length; i++) {
    if (mean(buckets.slice(i, i + WINDOW)) * perSec >= 0.9 * afterRps) {
      recoveryMs = Math.max(0, (i + WINDOW) * BUCKET_MS - killAtMs);
      break;
    }
  }
  return { failed, beforeRps, afterRps, recoveryMs, buckets, killAtMs };
}

export const failover: Scenario = {
  id: 4,
  title: 'Failover (SIGKILL 1 of 3 workers under load)',
  steps: (p) => p.failover.rounds * 2,
  async run(ctx: Ctx) {
    const { profile } = ctx;
    const { beforeMs, afterMs, rounds } = profile.failover;
    const runs: Record<'rpc' | 'plain', FailoverRun[]> = { rpc: [], plain: [] };
    for (let r = 0; r < rounds; r++) {
      for (const mode of ['rpc', 'plain'] as const) {
        ctx.progress.step(`4 failover: ${mode} round ${r + 1}/${rounds}`);
        const workers = await ctx.startWorkers(3, () => [{ name: 'fo', kind: mode, delayMs: DELAY_MS, concurrency: CONCURRENCY }]);
        try {
          // Fresh processes: long enough a warm-up that the JIT is done before the kill.
          const warmupMs = profile.name === 'full' ? 2_000 : 1_000;
          const sent = performance.now();
          const result = ctx.run({
            mode,
            service: 'fo',
            payloadBytes: 100,
            inFlight: IN_FLIGHT,
            warmupMs,
            durationMs: beforeMs + afterMs,
            timeoutMs: TIMEOUT_MS,
            retryRejected: false,
            bucketMs: BUCKET_MS,
          });
          await new Promise((res) => setTimeout(res, warmupMs + beforeMs));
          workers[0]!.kill('SIGKILL');
          const killAtMs = performance.now() - sent - warmupMs;
          const res = await result;
          runs[mode].push(analyse(res.buckets ?? [], killAtMs, res.failed));
        } finally {
          await stopAll(workers);
        }
      }
    }
    const failedCount = (f: Record<string, number>) => Object.values(f).reduce((a, b) => a + b, 0);
    const rows = (['rpc', 'plain'] as const).map((mode) => {
      const rs = runs[mode];
      const other = runs[mode === 'rpc' ? 'plain' : 'rpc'];
      return {
        client: mode === 'rpc' ? 'natsrpc' : 'plain nats',
        'req/s before': int(median(rs.map((x) => x.beforeRps))),
        'req/s after (2 left)': int(median(rs.map((x) => x.afterRps))),
        'calls failed': rs.map((x) => failedCount(x.failed)).join(' / '),
        'failure codes': [...new Set(rs.flatMap((x) => Object.keys(x.failed)))].join(' ') || '-',
        'back to 90% after': rs.map((x) => (Number.isNaN(x.recoveryMs) ? 'never' : `${Math.round(x.recoveryMs)} ms`)).join(' / '),
        'recovery ratio to other': mode === 'rpc' ? ratio(median(rs.map((x) => x.recoveryMs)), median(other.map((x) => x.recoveryMs))) : '',
      };
    });
    return {
      id: 4,
      title: this.title,
      rows,
      notes: [`${IN_FLIGHT} in flight, ${DELAY_MS} ms handler, call timeout ${TIMEOUT_MS} ms, throughput in ${WINDOW * BUCKET_MS} ms windows`],
      data: runs,
    };
  },
};
