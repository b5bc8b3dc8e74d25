/** The table printed at the end, and the machine description that goes with every result. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem, type as osType, release } from 'node:os';
import type { ScenarioResult } from '../scenarios/types.js';

export function table(rows: Array<Record<string, string | number>>): string {
  if (rows.length === 0) return '(no rows)';
  const cols = Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? '')));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]) => '| ' + vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line(cols), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...cells.map(line)].join('\n');
}

export function renderResults(results: ScenarioResult[]): string {
  return results
    .map((r) => [`### ${r.id}. ${r.title}`, '', table(r.rows), ...r.notes.map((n) => `\n${n}`)].join('\n'))
    .join('\n\n');
}

export function machine(natsServerBin: string): Record<string, unknown> {
  let natsServer = 'unknown';
  try {
    natsServer = execFileSync(natsServerBin, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // reported as unknown
  }
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGb: Math.round(totalmem() / 1e9),
    os: `${osType()} ${release()}`,
    node: process.version,
    natsServer,
    loadAverageAtStart: loadavg().map((l) => l.toFixed(2)),
  };
}
