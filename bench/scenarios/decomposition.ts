/**
 * Scenario 6: where the cost of a call goes. The same echo workload four ways, interleaved in
 * the same processes: the plain-`nats` baseline, the baseline carrying natsrpc envelopes (`codec`:
 * encode and decode only, no runtime), natsrpc itself, and natsrpc idempotent calls (whatever acks
 * and resend checks cost them shows here, broker included). For each, the CPU time per call of the
 * client, of both workers and of the broker (from /proc, Linux), so a throughput ratio can be split
 * into what the wire format costs and what the client and worker runtimes cost.
 */
import { stopAll } from '../lib/ipc.js';
import { median, type Ctx } from '../lib/context.js';
import type { RunResult, RunSpec } from '../proc/client.js';
import { cpuSecondsOf } from './supervisor.js';
import { int, ratio, size, type Scenario } from './types.js';

const WORKERS = 2;
const CONCURRENCY = 1_024;
const MODES = ['plain', 'codec', 'rpc', 'idempotent'] as const;
type Mode = (typeof MODES)[number];
/** The services the workers host: idempotent calls go to the `rpc` one. */
const KINDS = ['plain', 'codec', 'rpc'] as const;
const PATH_NAMES: Record<Mode, string> = { plain: 'plain nats', codec: 'plain nats + natsrpc envelopes', rpc: 'natsrpc', idempotent: 'natsrpc idempotent' };

interface Trial {
  mode: Mode;
  rps: number;
  clientUs: number;
  workersUs: number;
  brokerUs: number;
}

export const decomposition: Scenario = {
  id: 6,
  title: 'Where the cost goes (CPU µs per call by process)',
  steps: (p) => (p.decompositionCells.length > 0 ? p.decompositionCells.length * p.rounds * MODES.length : 0),
  async run(ctx: Ctx & { brokerPid?: number }) {
    const { profile } = ctx;
    const workers = await ctx.startWorkers(WORKERS, () => KINDS.map((kind) => ({ name: 'echo', kind, delayMs: 0, concurrency: CONCURRENCY })));
    const workerCpuUs = async () => {
      const stats = await Promise.all(workers.map((w) => w.request<{ cpu: { user: number; system: number } }>('stats')));
      return stats.reduce((n, s) => n + s.cpu.user + s.cpu.system, 0);
    };
    const brokerUs = () => (ctx.brokerPid ? cpuSecondsOf(ctx.brokerPid) * 1e6 : NaN);
    const cells: Array<{ inFlight: number; payloadBytes: number; trials: Trial[] }> = [];
    try {
      for (const mode of KINDS) {
        ctx.progress.note(`6 warming up ${mode}`);
        await ctx.run(spec(mode, 100, 64, 0, profile.warmupMs * 2));
      }
      for (const [inFlight, payloadBytes] of profile.decompositionCells) {
        const trials: Trial[] = [];
        for (let r = 0; r < profile.rounds; r++) {
          for (const mode of MODES) {
            ctx.progress.step(`6 cost of a call ${inFlight} in flight ${size(payloadBytes)}: ${mode} round ${r + 1}/${profile.rounds}`);
            // Worker and broker CPU is read around the whole run, warm-up included: per call, it
            // is divided by the calls of the whole run (the warm-up's estimated from its rate).
            const w0 = await workerCpuUs();
            const b0 = brokerUs();
            const res: RunResult = await ctx.run(spec(mode, payloadBytes, inFlight, profile.warmupMs, profile.durationMs));
            const calls = Math.max(1, res.ok * (1 + profile.warmupMs / profile.durationMs));
            trials.push({
              mode,
              rps: res.rps,
              clientUs: (res.cpuMs * 1000) / Math.max(1, res.ok),
              workersUs: ((await workerCpuUs()) - w0) / calls,
              brokerUs: (brokerUs() - b0) / calls,
            });
          }
        }
        cells.push({ inFlight, payloadBytes, trials });
      }
    } finally {
      await stopAll(workers);
    }
    const rows = cells.flatMap((c) => {
      const of = (mode: Mode) => c.trials.filter((t) => t.mode === mode);
      const med = (mode: Mode, key: keyof Omit<Trial, 'mode'>) => median(of(mode).map((t) => t[key]));
      const baseline = med('plain', 'rps');
      return MODES.map((mode) => {
        const total = med(mode, 'clientUs') + med(mode, 'workersUs') + med(mode, 'brokerUs');
        return {
          'in flight': c.inFlight,
          payload: size(c.payloadBytes),
          path: PATH_NAMES[mode],
          'req/s': int(med(mode, 'rps')),
          'req/s ratio': ratio(med(mode, 'rps'), baseline),
          'client µs': med(mode, 'clientUs').toFixed(1),
          'workers µs': med(mode, 'workersUs').toFixed(1),
          'broker µs': med(mode, 'brokerUs').toFixed(1),
          'total µs': total.toFixed(1),
        };
      });
    });
    const notes = ['CPU time per call, medians over rounds; the whole machine is busy at these loads, so throughput follows the total'];
    return { id: 6, title: this.title, rows, notes, data: cells };
  },
};

function spec(mode: Mode, payloadBytes: number, inFlight: number, warmupMs: number, durationMs: number): RunSpec {
  const idempotent = mode === 'idempotent';
  return { mode: idempotent ? 'rpc' : mode, idempotent, service: 'echo', payloadBytes, inFlight, warmupMs, durationMs, timeoutMs: 10_000, retryRejected: false };
}
