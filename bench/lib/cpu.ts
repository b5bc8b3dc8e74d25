/**
 * The CPU time (user + system, in ms) a process has spent so far, to be read before and after a
 * measured section. On a shared machine it varies much less than the section's wall time, so it
 * shows where a difference comes from.
 */
import { readFileSync } from 'node:fs';

export function cpuMs(): number {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
}

/** One measured run: its wall time and the CPU time this process, a peer process and the broker spent on it, in ms. */
export interface CpuMeasured {
  ms: number;
  self: number;
  peer: number;
  broker: number;
}

/**
 * Runs `run` (which returns its own wall time) and measures the CPU time this process, `peer` (a
 * child answering the command `cpu` with its {@link cpuMs}) and the broker (process `brokerPid`)
 * spent meanwhile.
 */
export async function withCpu(peer: { request<T>(cmd: string): Promise<T> }, brokerPid: number | undefined, run: () => Promise<number>): Promise<CpuMeasured> {
  const self0 = cpuMs();
  const peer0 = await peer.request<number>('cpu');
  const broker0 = processCpuMs(brokerPid);
  const ms = await run();
  const self = cpuMs() - self0;
  const broker = processCpuMs(brokerPid) - broker0;
  return { ms, self, peer: (await peer.request<number>('cpu')) - peer0, broker };
}

/** CPU time (ms) another process has spent so far, all its threads (Linux: /proc/<pid>/stat), NaN where that cannot be read. */
export function processCpuMs(pid: number | undefined): number {
  return pid === undefined ? NaN : statCpuMs(`/proc/${pid}/stat`);
}

/**
 * The CPU time (ms) of the process's main thread alone (Linux: utime + stime of its
 * /proc/<pid>/task/<pid>/stat, in 10 ms ticks), NaN where that cannot be read. A receiver's main
 * thread is the slowest stage of a transfer: this is the time on the critical path, where
 * {@link cpuMs} also counts the process's other threads.
 */
export function mainThreadCpuMs(pid: number = process.pid): number {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`);
}

/** utime + stime of a Linux stat file, in ms (10 ms ticks); NaN where it cannot be read. */
function statCpuMs(path: string): number {
  try {
    const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}
