/**
 * Scenario 1: an echo service in 2 worker processes, closed loop at 1, 64 and 256 calls in
 * flight, payloads of 100 B, 10 KB and 500 KB; natsrpc (A), the plain-`nats` baseline (B) and
 * natsrpc idempotent calls (I) interleaved A B I I B A in the same processes: each trial runs
 * first as often as last, so a slow start or a load that builds up over a round does not always
 * fall on the same path.
 */
import { stopAll } from '../lib/ipc.js';
import { median, type Ctx } from '../lib/context.js';
import type { RunResult } from '../proc/client.js';
import { int, ratio, size, us, type Scenario } from './types.js';

const WORKERS = 2;
const TRIAL_ORDER = ['rpc', 'plain', 'idempotent'] as const;
const TRIAL_ORDER_REVERSED = [...TRIAL_ORDER].reverse() as Array<(typeof TRIAL_ORDER)[number]>;
/** High enough that the limit never refuses a call here: this measures the path, not the limit. */
const CONCURRENCY = 1_024;

export const throughput: Scenario = {
  id: 1,
  title: 'Throughput and latency (echo, 2 workers)',
  steps: (p) => p.throughputCells.length * p.rounds * 3,
  async run(ctx: Ctx) {
    const { profile } = ctx;
    const workers = await ctx.startWorkers(WORKERS, () => [
      { name: 'echo', kind: 'rpc', delayMs: 0, concurrency: CONCURRENCY },
      { name: 'echo', kind: 'plain', delayMs: 0, concurrency: CONCURRENCY },
    ]);
    const cells = [];
    const workerCpuUs = async () => {
      const stats = await Promise.all(workers.map((w) => w.request<{ cpu: { user: number; system: number } }>('stats')));
      return stats.reduce((n, s) => n + s.cpu.user + s.cpu.system, 0);
    };
    try {
      // JIT warm-up of both paths before anything is measured
      for (const mode of ['rpc', 'plain'] as const) {
        ctx.progress.note(`1 warming up ${mode}`);
        await ctx.run({ mode, service: 'echo', payloadBytes: 100, inFlight: 64, warmupMs: 0, durationMs: profile.warmupMs * 2, timeoutMs: 10_000, retryRejected: false });
      }
      for (const [inFlight, payloadBytes] of profile.throughputCells) {
        const a: CellRun[] = [];
        const b: CellRun[] = [];
        const idem: CellRun[] = [];
        for (let r = 0; r < profile.rounds; r++) {
          for (const trial of r % 2 === 0 ? TRIAL_ORDER : TRIAL_ORDER_REVERSED) {
            ctx.progress.step(`1 throughput ${inFlight} in flight ${size(payloadBytes)}: ${trial} round ${r + 1}/${profile.rounds}`);
            const mode = trial === 'plain' ? 'plain' : 'rpc';
            const cpu0 = await workerCpuUs();
            const res = await ctx.run({
              mode,
              idempotent: trial === 'idempotent',
              service: 'echo',
              payloadBytes,
              inFlight,
              warmupMs: profile.warmupMs,
              durationMs: profile.durationMs,
              timeoutMs: 10_000,
              retryRejected: false,
            });
            // CPU of both worker processes per call, warm-up included: for comparing paths, not absolute
            const workerUsPerCall = (await workerCpuUs()) - cpu0;
            (trial === 'rpc' ? a : trial === 'plain' ? b : idem).push({ ...res, workerCpuUsPerCall: workerUsPerCall / Math.max(1, res.ok * (1 + profile.warmupMs / profile.durationMs)) });
          }
        }
        const workerStats = await Promise.all(workers.map((w) => w.request<{ rssMb: number }>('stats')));
        cells.push({ inFlight, payloadBytes, rpc: a, plain: b, idempotent: idem, workerRssMb: workerStats.map((s) => s.rssMb) });
      }
    } finally {
      await stopAll(workers);
    }
    const rows = cells.map((c) => {
      const A = summarize(c.rpc);
      const B = summarize(c.plain);
      const I = summarize(c.idempotent);
      return {
        'in flight': c.inFlight,
        payload: size(c.payloadBytes),
        'natsrpc req/s': int(A.rps),
        'plain req/s': int(B.rps),
        'req/s ratio': ratio(A.rps, B.rps),
        'idempotent req/s': int(I.rps),
        'idempotent / natsrpc': ratio(I.rps, A.rps),
        'p50': us(A.p50),
        'p50 ratio': ratio(A.p50, B.p50),
        'p99': us(A.p99),
        'p99 ratio': ratio(A.p99, B.p99),
        errors: A.errors + B.errors + I.errors,
        'CPU µs/call client+workers (plain)': `${cpuPerCall(c.rpc)} (${cpuPerCall(c.plain)})`,
        'client max RSS MB (plain)': `${Math.round(A.maxRss)} (${Math.round(B.maxRss)})`,
      };
    });
    return { id: 1, title: this.title, rows, notes: [], data: cells };
  },
};

type CellRun = RunResult & { workerCpuUsPerCall: number };

function cpuPerCall(rs: CellRun[]): string {
  return median(rs.map((r) => (r.cpuMs * 1000) / Math.max(1, r.ok) + r.workerCpuUsPerCall)).toFixed(0);
}

/** Medians over rounds: one slow round on a shared machine does not decide the figure. */
export function summarize(rs: RunResult[]) {
  return {
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50Us)),
    p99: median(rs.map((r) => r.p99Us)),
    errors: rs.reduce((n, r) => n + Object.values(r.failed).reduce((a, b) => a + b, 0), 0),
    rejected: rs.reduce((n, r) => n + r.rejected, 0),
    maxRss: Math.max(...rs.map((r) => r.maxRssMb)),
  };
}
