/**
 * The chaos run of issue 10: a real nats-server on its default settings (a frozen worker stays
 * subscribed until the broker's ping check, minutes), a supervisor process on its defaults (no
 * $SYS rights), 4 worker processes and 12 closed-loop idempotent callers with 4 s deadlines, while
 * a seeded sequence SIGKILLs (and respawns), SIGSTOPs (and SIGCONTs a few seconds later) and
 * SIGTERMs (graceful drain, respawn) workers. Not one call may fail, and calls must keep
 * completing between every two events. No timing is asserted; bench/chaos.ts prints the figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chaosSchedule, runChaos } from './helpers/chaos.js';

const SEED = 4;

// Two events of each kind, 4 s apart, after 3 s of load and before 5 s more: about 32 s of load,
// so that the file stays well inside the suite's 120 s per file on a loaded machine.
// bench/chaos.ts runs the longer sequence (9 events).
const EVENTS = 6;

test('the seeded schedule hits workers with every kind of event', () => {
  const kinds = chaosSchedule(SEED, EVENTS);
  assert.deepEqual([...kinds].sort(), ['kill', 'kill', 'stop', 'stop', 'term', 'term']);
  assert.deepEqual(chaosSchedule(SEED, EVENTS), kinds, 'the same seed, the same sequence');
});

test('SIGKILL, SIGSTOP and SIGTERM of workers under idempotent load: 0 failed calls', { timeout: 110_000 }, async (t) => {
  const r = await runChaos({ seed: SEED, events: EVENTS, settleMs: 5_000, log: (line) => t.diagnostic(line) });
  t.diagnostic(`${r.calls} calls, ${r.ok} ok, failed ${JSON.stringify(r.failed)}; worst 500 ms window ${r.worstWindow.pct}% of ${r.baselinePerS}/s; budget spent ${r.budget.spent}, refused ${r.budget.refused}`);
  assert.ok(r.events.length >= EVENTS - 2, `the chaos happened: ${r.events.map((e) => e.kind).join(', ')}`);
  assert.deepEqual(r.failed, {}, `no call fails: ${r.failures.slice(0, 5).map((f) => `${f.code} at ${f.at} ms: ${f.message}`).join('; ')}`);
  assert.equal(r.ok, r.calls);
  r.okBetweenEvents.forEach((n, i) => assert.ok(n > 0, `calls completed after event ${i + 1} (${r.events[i]!.kind}) before the next`));
});
