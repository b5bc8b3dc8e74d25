/**
 * The chaos run (issue 10): SIGKILL, SIGSTOP and SIGTERM on 4 workers under 12 closed-loop
 * idempotent callers with 4 s deadlines, the broker on its default settings and a supervisor on
 * its defaults (test/helpers/chaos.ts). Prints, for each run: calls, failures by code, the worst
 * 500 ms window (vs the rate before the first event) and each event's effect.
 *
 *   node --import tsx bench/chaos.ts [runs, default 3] [first seed, default 1]
 */
import { runChaos } from '../test/helpers/chaos.js';

// Interrupted: exit through process.exit, whose handlers kill every child process started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const runs = Number(process.argv[2] ?? 3);
const firstSeed = Number(process.argv[3] ?? 1);
const totals = { calls: 0, failed: 0 };
for (let k = 0; k < runs; k++) {
  const seed = firstSeed + k;
  const r = await runChaos({ seed, log: (line) => process.stderr.write(line + '\n') });
  const failed = Object.values(r.failed).reduce((a, b) => a + b, 0);
  totals.calls += r.calls;
  totals.failed += failed;
  console.log(`\nrun ${k + 1}, seed ${seed}: ${r.calls} calls in ${(r.durationMs / 1000).toFixed(1)} s, ${r.ok} ok, ${failed} failed ${JSON.stringify(r.failed)}`);
  console.log(`  baseline ${r.baselinePerS} calls/s; worst 500 ms window from the first event: ${r.worstWindow.ok} calls (${r.worstWindow.pct}%) at ${r.worstWindow.at} ms`);
  console.log(`  retry budget: ${r.budget.spent} tokens spent, ${r.budget.refused} refused`);
  console.log('  event             worker                 at ms   ended ms  failed  worst 500 ms  back to 80% after');
  for (const e of r.events) {
    console.log(`  ${e.kind.padEnd(6)} ${e.workerId.padEnd(28)} ${String(e.at).padStart(7)} ${String(e.endedAt ?? '-').padStart(9)} ${String(e.failures).padStart(7)} ${`${e.worstPct}%`.padStart(13)} ${e.recoveredAfterMs === null ? '             -' : `${e.recoveredAfterMs} ms`.padStart(14)}`);
  }
  for (const f of r.failures.slice(0, 10)) console.log(`  failure at ${f.at} ms: ${f.code} ${f.message}`);
}
console.log(`\n${runs} runs: ${totals.calls} calls, ${totals.failed} failed`);
