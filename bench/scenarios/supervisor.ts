/**
 * Scenario 5: the supervisor at scale. A generator process heartbeats for 10,000 simulated
 * workers once a second. With a supervisor it measures the supervisor's CPU and memory and how
 * long it takes to notice a worker that stops; without one (src/supervisor absent) it measures
 * the generator and the broker alone, so the load itself is known to be delivered.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

export const supervisorScale: Scenario = {
  id: 5,
  title: 'Supervisor at scale (10,000 simulated workers, 1 heartbeat/s each)',
  steps: (p) => (p.supervisor.workers > 0 ? 1 : 0),
  async run(ctx: Ctx & { brokerPid?: number }) {
    const { workers: count, runMs } = ctx.profile.supervisor;
    ctx.progress.step(`5 heartbeats: ${count} simulated workers for ${runMs / 1000} s`);
    const notes: string[] = [];
    const hasSupervisor = supervisorAvailable();
    if (!hasSupervisor) notes.push('src/supervisor is not on this branch yet: the generator and broker are measured, the supervisor is not');
    await using gen = new BenchChild('heartbeats.ts', { url: ctx.url, prefix: 'rpc', count, services: SERVICES, intervalMs: INTERVAL_MS });
    await gen.ready;
    const brokerCpu0 = ctx.brokerPid ? cpuSecondsOf(ctx.brokerPid) : NaN;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, runMs));
    const seconds = (performance.now() - t0) / 1000;
    const brokerCpu = ctx.brokerPid ? ((cpuSecondsOf(ctx.brokerPid) - brokerCpu0) / seconds) * 100 : NaN;
    const stats = await gen.request<{ sent: number; perSecond: number; cpuPercent: number }>('stats');
    const rows = [
      { measure: 'heartbeats/s delivered by the generator', value: int(stats.perSecond) },
      { measure: 'generator CPU %', value: stats.cpuPercent.toFixed(1) },
      { measure: 'nats-server CPU %', value: Number.isNaN(brokerCpu) ? 'n/a' : brokerCpu.toFixed(1) },
      { measure: 'supervisor CPU % / RSS MB / detection', value: hasSupervisor ? 'not wired (see notes)' : 'no supervisor on this branch' },
    ];
    return { id: 5, title: this.title, rows, notes, data: { count, intervalMs: INTERVAL_MS, generator: stats, brokerCpuPercent: brokerCpu } };
  },
};
