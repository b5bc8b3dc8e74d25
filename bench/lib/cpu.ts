/**
 * The CPU time (user + system, in ms) a process has spent so far, to be read before and after a
 * measured section. On a shared machine it varies much less than the section's wall time, so it
 * shows where a difference comes from.
 */
export function cpuMs(): number {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
}

/** One measured run: its wall time and the CPU time this process and a peer process spent on it, in ms. */
export interface CpuMeasured {
  ms: number;
  self: number;
  peer: number;
}

/**
 * Runs `run` (which returns its own wall time) and measures the CPU time this process and `peer`
 * (a child answering the command `cpu` with its {@link cpuMs}) spent meanwhile.
 */
export async function withCpu(peer: { request<T>(cmd: string): Promise<T> }, run: () => Promise<number>): Promise<CpuMeasured> {
  const self0 = cpuMs();
  const peer0 = await peer.request<number>('cpu');
  const ms = await run();
  const self = cpuMs() - self0;
  return { ms, self, peer: (await peer.request<number>('cpu')) - peer0 };
}
