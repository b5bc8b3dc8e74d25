/**
 * Scenario 2: scaling out by starting processes. An I/O-bound handler (10 ms wait) with a
 * concurrency of 1 per worker, 1, 2, 4 and 8 workers, twice as many calls in flight as workers
 * (saturated). natsrpc with both routing modes, and the plain baseline whose workers run one
 * handler at a time and queue the rest.
 */
import { stopAll } from '../lib/ipc.js';
import type { Ctx } from '../lib/context.js';
import type { RunResult } from '../proc/client.js';
import { summarize } from './throughput.js';
import { int, ratio, us, type Scenario } from './types.js';

const DELAY_MS = 10;
const VARIANTS = [
  { key: 'rpc:scale-o', mode: 'rpc', service: 'scale-o', label: 'natsrpc overload-reply' },
  { key: 'rpc:scale-l', mode: 'rpc', service: 'scale-l', label: 'natsrpc leave-when-full' },
  { key: 'plain:scale-p', mode: 'plain', service: 'scale-p', label: 'plain nats (queued)' },
] as const;

export const scaling: Scenario = {
  id: 2,
  title: 'Scaling by processes (10 ms I/O handler, concurrency 1 per worker)',
  steps: (p) => p.scalingWorkers.length * p.rounds * VARIANTS.length,
  async run(ctx: Ctx) {
    const { profile } = ctx;
    const max = Math.max(...profile.scalingWorkers);
    const workers = await ctx.startWorkers(max, () => [
      { name: 'scale-o', kind: 'rpc', delayMs: DELAY_MS, concurrency: 1, routing: 'overload-reply', active: false },
      { name: 'scale-l', kind: 'rpc', delayMs: DELAY_MS, concurrency: 1, routing: 'leave-when-full', active: false },
      { name: 'scale-p', kind: 'plain', delayMs: DELAY_MS, concurrency: 1, active: false },
    ]);
    const points: Array<{ workers: number; results: Record<string, RunResult[]> }> = [];
    try {
      let active = 0;
      for (const n of [...profile.scalingWorkers].sort((a, b) => a - b)) {
        for (; active < n; active++) {
          for (const v of VARIANTS) await workers[active]!.request('set', { key: v.key, active: true });
        }
        const results: Record<string, RunResult[]> = {};
        for (let r = 0; r < profile.rounds; r++) {
          for (const v of VARIANTS) {
            ctx.progress.step(`2 scaling ${n} workers: ${v.label} round ${r + 1}/${profile.rounds}`);
            const res = await ctx.run({
              mode: v.mode,
              service: v.service,
              payloadBytes: 100,
              inFlight: 2 * n,
              warmupMs: Math.min(profile.warmupMs, 500),
              durationMs: profile.scalingDurationMs,
              timeoutMs: 10_000,
              retryRejected: true,
            });
            (results[v.label] ??= []).push(res);
          }
        }
        points.push({ workers: n, results });
      }
    } finally {
      await stopAll(workers);
    }
    const base = points[0];
    const rows = points.flatMap((p) =>
      VARIANTS.map((v) => {
        const s = summarize(p.results[v.label]!);
        const one = base ? summarize(base.results[v.label]!).rps : NaN;
        const plain = summarize(p.results['plain nats (queued)']!).rps;
        return {
          workers: p.workers,
          variant: v.label,
          'req/s': int(s.rps),
          'x one worker': ratio(s.rps, one),
          'ideal x': p.workers,
          'ratio to plain': ratio(s.rps, plain),
          p50: us(s.p50),
          p99: us(s.p99),
          'rejected (retried)': s.rejected,
          errors: s.errors,
        };
      }),
    );
    return { id: 2, title: this.title, rows, notes: [`ideal: ${1000 / DELAY_MS} req/s per worker, minus timer overshoot`], data: points };
  },
};
