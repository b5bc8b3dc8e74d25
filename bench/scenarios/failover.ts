/**
 * Scenario 4: failover. 2 echo workers under a closed loop of 64 callers with 2 s deadlines; one
 * worker is killed with SIGKILL. Three clients take turns on fresh workers: plain `nats`
 * request/reply, natsrpc plain calls and natsrpc idempotent calls. A supervisor runs beside them
 * (default settings). Reported: the calls that failed and with which codes, the worst 500 ms of
 * throughput after the kill relative to the rate before it, and when the last failed call ended
 * (relative to the kill). Goals (issue 10): natsrpc plain calls: every failure ends within 500 ms
 * of the kill and the worst window keeps 50%; idempotent: no failure and the worst window keeps 70%.
 */
import type { Ctx } from '../lib/context.js';
import { mean, median } from '../lib/context.js';
import { BenchChild, stopAll } from '../lib/ipc.js';
import { int, type Scenario } from './types.js';

const IN_FLIGHT = 64;
const TIMEOUT_MS = 2_000;
const BUCKET_MS = 50;
/** The worst window is judged over this many buckets (500 ms). */
const WINDOW = 10;
/** Above what one worker can be routed at once: only the kill causes failures. */
const CONCURRENCY = 1_024;

type Mode = 'plain' | 'rpc' | 'rpc-idempotent';
const MODES: Mode[] = ['plain', 'rpc', 'rpc-idempotent'];
const LABEL: Record<Mode, string> = { plain: 'plain nats', rpc: 'natsrpc plain calls', 'rpc-idempotent': 'natsrpc idempotent calls' };

export interface FailoverRun {
  failed: Record<string, number>;
  beforeRps: number;
  /** Lowest mean rate over any 500 ms window from the kill to the end, relative to `beforeRps`. */
  worstWindow: number;
  /** When the last failed call ended, ms after the kill (NaN when none failed). */
  lastFailureMs: number;
  killAtMs: number;
  buckets: number[];
}

export function analyse(buckets: number[], durationMs: number, killAtMs: number, failed: Record<string, number>, failureEndsMs: number[]): FailoverRun {
  const perSec = 1000 / BUCKET_MS;
  // Buckets after the last success are missing: nothing succeeded in them.
  while (buckets.length < Math.floor(durationMs / BUCKET_MS)) buckets.push(0);
  const killIdx = Math.floor(killAtMs / BUCKET_MS);
  const beforeRps = mean(buckets.slice(1, killIdx)) * perSec;
  let worst = Infinity;
  const full = Math.floor(durationMs / BUCKET_MS);
  for (let i = killIdx; i + WINDOW <= full; i++) worst = Math.min(worst, mean(buckets.slice(i, i + WINDOW)) * perSec);
  const lastFailureMs = failureEndsMs.length === 0 ? NaN : Math.max(...failureEndsMs) - killAtMs;
  return { failed, beforeRps, worstWindow: worst === Infinity ? NaN : worst / beforeRps, lastFailureMs, killAtMs, buckets };
}

export const failover: Scenario = {
  id: 4,
  title: 'Failover (SIGKILL 1 of 2 workers, 64 callers, 2 s deadlines)',
  steps: (p) => p.failover.rounds * MODES.length,
  async run(ctx: Ctx) {
    const { profile } = ctx;
    const { beforeMs, afterMs, rounds } = profile.failover;
    const runs: Record<Mode, FailoverRun[]> = { plain: [], rpc: [], 'rpc-idempotent': [] };
    await using supervisor = new BenchChild('supervisor.ts', { url: ctx.url });
    await supervisor.ready;
    for (let r = 0; r < rounds; r++) {
      for (const mode of MODES) {
        ctx.progress.step(`4 failover: ${LABEL[mode]} round ${r + 1}/${rounds}`);
        const kind = mode === 'plain' ? 'plain' : 'rpc';
        const workers = await ctx.startWorkers(2, () => [{ name: 'fo', kind, delayMs: 0, concurrency: CONCURRENCY }]);
        try {
          // Fresh processes: long enough a warm-up that the JIT is done before the kill.
          const warmupMs = profile.name === 'full' ? 2_000 : 1_000;
          const sent = performance.now();
          const result = ctx.run({
            mode: kind,
            idempotent: mode === 'rpc-idempotent',
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
          runs[mode].push(analyse(res.buckets ?? [], beforeMs + afterMs, killAtMs, res.failed, res.failureEndsMs ?? []));
        } finally {
          await stopAll(workers);
        }
      }
    }
    const failedCount = (f: Record<string, number>) => Object.values(f).reduce((a, b) => a + b, 0);
    const pct = (x: number) => (Number.isNaN(x) ? '-' : `${Math.round(x * 100)}%`);
    const rows = MODES.map((mode) => {
      const rs = runs[mode];
      return {
        client: LABEL[mode],
        'req/s before': int(median(rs.map((x) => x.beforeRps))),
        'calls failed': rs.map((x) => failedCount(x.failed)).join(' / '),
        'failure codes': [...new Set(rs.flatMap((x) => Object.keys(x.failed)))].join(' ') || '-',
        'worst 500 ms (of before)': rs.map((x) => pct(x.worstWindow)).join(' / '),
        'last failure ended after kill': rs.map((x) => (Number.isNaN(x.lastFailureMs) ? '-' : `${Math.round(x.lastFailureMs)} ms`)).join(' / '),
      };
    });
    return {
      id: 4,
      title: this.title,
      rows,
      notes: [`${IN_FLIGHT} callers, echo, call timeout ${TIMEOUT_MS} ms, throughput in ${WINDOW * BUCKET_MS} ms windows, a supervisor with default settings`],
      data: runs,
    };
  },
};
