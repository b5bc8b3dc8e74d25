/**
 * Scenario 5: the supervisor at scale. A generator process heartbeats for 10,000 simulated
 * workers once a second. With a supervisor it measures the supervisor's CPU and memory and how
 * long it takes to notice a worker that stops; without one (src/supervisor absent) it measures
 * the generator and the broker alone, so the load itself is known to be delivered.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect as natsConnect } from 'nats';
import { decodeChecked } from '../../src/protocol/codec.js';
import { eventSubject } from '../../src/protocol/subjects.js';
import type { Ctx } from '../lib/context.js';
import { BenchChild } from '../lib/ipc.js';
import { int, type Scenario } from './types.js';

const INTERVAL_MS = 1_000;
const SERVICES = 20;

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
export function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

export function rssMbOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function supervisorAvailable(): boolean {
  const dir = fileURLToPath(new URL('../../src/supervisor/', import.meta.url));
  return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.ts'));
}

/** Simulated workers stopped to measure detection, and how long to wait for each to be called lost. */
const STOPPED = [0, 1, 2];
const DETECTION_TIMEOUT_MS = 20_000;

interface Detection {
  workerId: string;
  detectedMs: number | null;
}

/** Stops simulated workers and waits for the supervisor's `lost` events about them. */
async function measureDetection(url: string, gen: BenchChild): Promise<Detection[]> {
  const nc = await natsConnect({ servers: url, noAsyncTraces: true, name: 'bench-events' });
  try {
    const stopped = new Map<string, number>();
    const detected = new Map<string, number>();
    const sub = nc.subscribe(`${eventSubject('rpc', 'x').slice(0, -1)}>`, {
      callback: (_err, msg) => {
        try {
          const ev = decodeChecked(msg.data) as { kind?: string; workerId?: string; ts?: number };
          if (ev.kind === 'lost' && ev.workerId !== undefined && stopped.has(ev.workerId) && !detected.has(ev.workerId)) {
            detected.set(ev.workerId, (ev.ts ?? Date.now()) - stopped.get(ev.workerId)!);
          }
        } catch {
          // not an event this scenario reads
        }
      },
    });
    await nc.flush();
    for (const index of STOPPED) {
      const r = await gen.request<{ id: string; stoppedAt: number }>('stop', { index });
      stopped.set(r.id, r.stoppedAt);
    }
    const until = Date.now() + DETECTION_TIMEOUT_MS;
    while (detected.size < stopped.size && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    sub.unsubscribe();
    return [...stopped.keys()].map((workerId) => ({ workerId, detectedMs: detected.get(workerId) ?? null }));
  } finally {
    await nc.close();
  }
}

export const supervisorScale: Scenario = {
  id: 5,
  title: 'Supervisor at scale (10,000 simulated workers, 1 heartbeat/s each)',
  steps: (p) => (p.supervisor.workers > 0 ? 1 : 0),
  async run(ctx: Ctx & { brokerPid?: number }) {
    const { workers: count, runMs } = ctx.profile.supervisor;
    ctx.progress.step(`5 supervisor: ${count} simulated workers for ${runMs / 1000} s, then 3 stop`);
    const notes: string[] = [];
    const hasSupervisor = supervisorAvailable();
    if (!hasSupervisor) notes.push('src/supervisor is not on this branch: the generator and broker are measured, the supervisor is not');
    await using sup = hasSupervisor ? new BenchChild('supervisor.ts', { url: ctx.url }) : null;
    if (sup !== null) await sup.ready;
    await using gen = new BenchChild('heartbeats.ts', { url: ctx.url, prefix: 'rpc', count, services: SERVICES, intervalMs: INTERVAL_MS });
    await gen.ready;
    // Every simulated worker has heartbeated at least once before the window starts.
    await new Promise((r) => setTimeout(r, INTERVAL_MS * 2));
    await sup?.request('mark');
    const brokerCpu0 = ctx.brokerPid ? cpuSecondsOf(ctx.brokerPid) : NaN;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, runMs));
    const seconds = (performance.now() - t0) / 1000;
    const brokerCpu = ctx.brokerPid ? ((cpuSecondsOf(ctx.brokerPid) - brokerCpu0) / seconds) * 100 : NaN;
    const stats = await gen.request<{ sent: number; perSecond: number; cpuPercent: number }>('stats');
    const supStats = sup !== null ? await sup.request<{ cpuPercent: number; rssMb: number; maxRssMb: number }>('stats') : null;
    const detections = sup !== null ? await measureDetection(ctx.url, gen) : [];
    const detectedMs = detections.map((d) => (d.detectedMs === null ? 'not within 20 s' : `${Math.round(d.detectedMs)} ms`)).join(' / ');
    const rows = [
      { measure: 'heartbeats/s delivered by the generator', value: int(stats.perSecond) },
      { measure: 'generator CPU %', value: stats.cpuPercent.toFixed(1) },
      { measure: 'nats-server CPU %', value: Number.isNaN(brokerCpu) ? 'n/a' : brokerCpu.toFixed(1) },
      { measure: 'supervisor CPU % (of one core)', value: supStats ? supStats.cpuPercent.toFixed(1) : 'no supervisor' },
      { measure: 'supervisor RSS MB (max in window)', value: supStats ? `${Math.round(supStats.rssMb)} (${Math.round(supStats.maxRssMb)})` : 'no supervisor' },
      { measure: 'stopped worker marked lost after', value: supStats ? detectedMs : 'no supervisor' },
    ];
    if (supStats) notes.push(`lost = silent for more than 3 heartbeat intervals (${3 * INTERVAL_MS} ms) by the default policy; detection is measured from the stop to the supervisor's lost event`);
    return { id: 5, title: this.title, rows, notes, data: { count, intervalMs: INTERVAL_MS, generator: stats, brokerCpuPercent: brokerCpu, supervisor: supStats, detections } };
  },
};
