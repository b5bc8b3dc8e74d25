/**
 * Scenario 3: a heterogeneous fleet. 4 workers with an I/O-bound handler of 1 ms, one of them 10
 * times slower (10 ms), against 4 equal workers; concurrency 4 per worker, 8 calls in flight,
 * rejected calls retried after 1 ms. natsrpc with each routing mode, and plain random routing.
 */
import { stopAll } from '../lib/ipc.js';
import type { Ctx } from '../lib/context.js';
import type { RunResult } from '../proc/client.js';
import type { ServiceSpec } from '../proc/worker.js';
import { summarize } from './throughput.js';
import { int, ratio, us, type Scenario } from './types.js';

const FAST_MS = 1;
const SLOW_MS = 10;
const CONCURRENCY = 4;
const IN_FLIGHT = 8;
const ROUTINGS = [
  { suffix: 'o', mode: 'rpc', routing: 'overload-reply', label: 'natsrpc overload-reply' },
  { suffix: 'l', mode: 'rpc', routing: 'leave-when-full', label: 'natsrpc leave-when-full' },
  { suffix: 'p', mode: 'plain', routing: undefined, label: 'plain nats (random)' },
] as const;
const FLEETS = [
  { prefix: 'eq', label: '4 equal' },
  { prefix: 'het', label: '1 of 4 10x slower' },
] as const;

export const heterogeneous: Scenario = {
  id: 3,
  title: 'Heterogeneous fleet (4 workers, one 10x slower)',
  steps: (p) => p.rounds * ROUTINGS.length * FLEETS.length,
  async run(ctx: Ctx) {
    const { profile } = ctx;
    const workers = await ctx.startWorkers(4, (i) =>
      FLEETS.flatMap((f) =>
        ROUTINGS.map((r): ServiceSpec => ({
          name: `${f.prefix}-${r.suffix}`,
          kind: r.mode,
          delayMs: f.prefix === 'het' && i === 0 ? SLOW_MS : FAST_MS,
          concurrency: r.mode === 'rpc' ? CONCURRENCY : 0,
          ...(r.routing ? { routing: r.routing } : {}),
        })),
      ),
    );
    const results: Record<string, RunResult[]> = {};
    try {
      for (let round = 0; round < profile.rounds; round++) {
        // equal and heterogeneous fleet back to back for each routing: the p99 ratio compares neighbours
        for (const r of ROUTINGS) {
          for (const f of FLEETS) {
            ctx.progress.step(`3 fleet ${f.label}: ${r.label} round ${round + 1}/${profile.rounds}`);
            const res = await ctx.run({
              mode: r.mode,
              service: `${f.prefix}-${r.suffix}`,
              payloadBytes: 100,
              inFlight: IN_FLIGHT,
              warmupMs: profile.warmupMs,
              durationMs: profile.durationMs,
              timeoutMs: 10_000,
              retryRejected: true,
            });
            (results[`${f.prefix}/${r.label}`] ??= []).push(res);
          }
        }
      }
    } finally {
      await stopAll(workers);
    }
    const rows = FLEETS.flatMap((f) =>
      ROUTINGS.map((r) => {
        const s = summarize(results[`${f.prefix}/${r.label}`]!);
        const eq = summarize(results[`eq/${r.label}`]!);
        const plain = summarize(results[`${f.prefix}/plain nats (random)`]!);
        return {
          fleet: f.label,
          routing: r.label,
          'req/s': int(s.rps),
          'req/s ratio to plain': ratio(s.rps, plain.rps),
          p50: us(s.p50),
          p99: us(s.p99),
          'p99 vs equal fleet': ratio(s.p99, eq.p99),
          'rejected (retried)': s.rejected,
          errors: s.errors,
        };
      }),
    );
    return {
      id: 3,
      title: this.title,
      rows,
      notes: [`handlers: ${FAST_MS} ms (slow worker ${SLOW_MS} ms) I/O wait, concurrency ${CONCURRENCY} per worker, ${IN_FLIGHT} in flight`],
      data: results,
    };
  },
};
