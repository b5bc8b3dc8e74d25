/**
 * The CPU time (user + system, in ms) a process has spent so far, to be read before and after a
 * measured section. On a shared machine it varies much less than the section's wall time, so it
 * shows where a difference comes from.
 */
export function cpuMs(): number {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
}
