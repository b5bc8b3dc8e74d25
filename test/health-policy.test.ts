/**
 * The supervisor's judgement as pure functions, without NATS: health evaluation, ejection
 * decisions (budget, never the last, growing periods, shutdown), election, and the validators of
 * the supervision envelopes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkControlCommand } from '../src/protocol/control.js';
import { checkHeartbeat, type WorkerHeartbeat } from '../src/protocol/heartbeat.js';
import { checkSupervisorHeartbeat } from '../src/protocol/supervisor-envelopes.js';
import { decide, drainBudget, type WorkerView } from '../src/supervisor/ejection.js';
import { electLeader } from '../src/supervisor/election.js';
import { ejectionPeriodMs, evaluateHealth, resolvePolicy, type HealthVerdict } from '../src/supervisor/policy.js';
import { WorkerRegistry } from '../src/supervisor/registry.js';

const policy = resolvePolicy();

function hb(over: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat {
  return {
    v: 1, id: 'svc-1', service: 'svc', version: '1.0.0', host: 'h', pid: 1, serverId: 'S', clientId: 1, state: 'serving',
    seq: 1, ts: 1, startedAt: 1, intervalMs: 1_000, inFlight: 0, concurrency: 8, received: 0, ok: 0, failed: {}, expired: 0,
    overruns: 0, consecutiveFaults: 0, p50Ms: 1, p99Ms: 2, loopDelayP99Ms: 10, stalledMs: 0, rssBytes: 1, overdue: 0, healthy: null,
    ...over,
  };
}
const none = { calls: 0, faults: 0 };

test('policy: a healthy worker is healthy; each signal alone makes it unhealthy, with the figures', () => {
  assert.deepEqual(evaluateHealth({ hb: hb(), own: none, peers: none }, policy).reasons, []);
  const cases: [Partial<WorkerHeartbeat>, RegExp][] = [
    [{ consecutiveFaults: 5 }, /5 consecutive INTERNAL failures/],
    [{ overdue: 1 }, /1 handlers running past their deadline/],
    [{ stalledMs: 3_001 }, /main loop stalled/],
    [{ loopDelayP99Ms: 1_500 }, /event-loop delay p99 1500/],
    [{ healthy: false, healthError: 'db down' }, /health check failing: db down/],
  ];
  for (const [over, reason] of cases) {
    const v = evaluateHealth({ hb: hb(over), own: none, peers: none }, policy);
    assert.equal(v.healthy, false, JSON.stringify(over));
    assert.match(v.reasons.join('; '), reason);
  }
  assert.equal(evaluateHealth({ hb: hb({ consecutiveFaults: 4 }), own: none, peers: none }, policy).healthy, true);
});

test('policy: the fault rate counts only when well above the other workers and with enough volume', () => {
  const judge = (own: { calls: number; faults: number }, peers: { calls: number; faults: number }) => evaluateHealth({ hb: hb(), own, peers }, policy).healthy;
  assert.equal(judge({ calls: 40, faults: 30 }, { calls: 120, faults: 0 }), false, '75% against 0%');
  assert.equal(judge({ calls: 40, faults: 30 }, { calls: 120, faults: 80 }), true, 'the whole service fails alike: not an outlier');
  assert.equal(judge({ calls: 10, faults: 10 }, { calls: 120, faults: 0 }), true, 'too few calls to judge');
  assert.equal(judge({ calls: 40, faults: 12 }, { calls: 120, faults: 0 }), true, '30% is below the 50% floor');
});

test('policy: standing health ignores call figures (an ejected worker gets none)', () => {
  const v = evaluateHealth({ hb: hb({ consecutiveFaults: 50 }), own: { calls: 100, faults: 100 }, peers: { calls: 100, faults: 0 } }, policy, true);
  assert.equal(v.healthy, true);
});

test('policy: options are validated, naming the field; ejection periods grow and are capped', () => {
  assert.throws(() => resolvePolicy({ maxDrainPercent: 120 }), /maxDrainPercent must be an integer from 0 to 100, received 120/);
  assert.throws(() => resolvePolicy({ nope: 1 } as never), /unknown health policy field "nope"/);
  assert.throws(() => resolvePolicy({ baseEjectionMs: 10, maxEjectionMs: 5 }), /maxEjectionMs/);
  assert.deepEqual([1, 2, 3, 100].map((n) => ejectionPeriodMs(n, policy)), [10_000, 20_000, 30_000, 300_000]);
});

const healthy: HealthVerdict = { healthy: true, reasons: [], codes: [], figures: {} };
const sick: HealthVerdict = { healthy: false, reasons: ['5 consecutive INTERNAL failures (limit 5)'], codes: ['consecutive_faults'], figures: { consecutiveFaults: 5 } };
function view(id: string, over: Partial<WorkerView> = {}): WorkerView {
  return { id, service: 'svc', state: 'serving', lost: false, health: healthy, standing: healthy, ejection: null, ejections: 0, shutdownSent: false, ...over };
}

test('ejection: the drain budget is maxDrainPercent of the live workers, at least one of two, never the last', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 10].map((n) => drainBudget(n, 50)), [0, 0, 1, 1, 2, 2, 5]);
  assert.deepEqual([2, 10].map((n) => drainBudget(n, 100)), [1, 9]);
  assert.equal(drainBudget(10, 0), 0);
});

test('ejection: all sick: half drained, the rest withheld; a single worker is never drained', () => {
  const all = ['a', 'b', 'c', 'd'].map((id) => view(id, { health: sick }));
  const d = decide(all, 0, policy, 1_000);
  assert.deepEqual(d.map((x) => x.kind).sort(), ['drain', 'drain', 'withheld', 'withheld']);
  const alone = decide([view('a', { health: sick })], 0, policy, 1_000);
  assert.deepEqual(alone.map((x) => x.kind), ['withheld']);
  assert.match(alone[0]!.reason, /last serving worker/);
  // Lost, stopped and other services' workers do not count.
  const mixed = decide([view('a', { health: sick }), view('b', { lost: true }), view('c', { service: 'other' })], 0, policy, 1_000);
  assert.deepEqual(mixed.map((x) => x.kind), ['withheld']);
});

test('ejection: a drained worker is resumed after its period only when healthy; repeat offenders are shut down', () => {
  const ejected = view('a', { state: 'drained', ejection: { until: 10_000, count: 1, sentAt: 0, acked: true } });
  assert.deepEqual(decide([ejected, view('b')], 9_999, policy, 1_000), []);
  assert.deepEqual(decide([ejected, view('b')], 10_000, policy, 1_000).map((x) => x.kind), ['resume']);
  assert.deepEqual(decide([{ ...ejected, standing: sick }, view('b')], 10_000, policy, 1_000), []);
  const d = decide([view('a', { health: sick, ejections: 1 }), view('b')], 0, policy, 1_000)[0]!;
  assert.equal(d.kind, 'drain');
  assert.equal((d as { until: number }).until, 20_000, 'the second ejection lasts twice the base');
  const last = decide([view('a', { health: sick, ejections: 3 }), view('b')], 0, policy, 1_000)[0]!;
  assert.equal(last.kind, 'shutdown');
  assert.match(last.reason, /ejected 4 times/);
  // An ejected worker that still reports serving (lost command) is sent the drain again.
  const stuck = view('a', { ejection: { until: 10_000, count: 1, sentAt: 0, acked: false } });
  assert.deepEqual(decide([stuck, view('b')], 1_000, policy, 1_000).map((x) => x.kind), ['resend']);
});

test('election: the oldest live supervisor leads; a silent one loses the lead after 3 intervals', () => {
  const self = { id: 'b', startedAt: 200, lastSeen: 5_000, intervalMs: 1_000 };
  const older = { id: 'a', startedAt: 100, lastSeen: 4_000, intervalMs: 1_000 };
  assert.equal(electLeader(self, [older], 5_000, 3), 'a');
  assert.equal(electLeader(self, [older], 7_000, 3), 'a');
  assert.equal(electLeader(self, [older], 7_001, 3), 'b');
  assert.equal(electLeader(self, [{ ...older, startedAt: 200, id: 'c' }], 5_000, 3), 'b', 'ties go to the smaller id');
});

test('registry: refusals and business errors never count as faults; a silent worker is lost after 3 intervals', () => {
  const reg = new WorkerRegistry(policy);
  const events: string[] = [];
  reg.onEvent((e) => events.push(e));
  reg.ingest(hb({ seq: 1 }), 0);
  reg.ingest(hb({ seq: 2, ok: 10, failed: { REJECTED: 50, BAD_REQUEST: 30, INTERNAL: 5 }, overruns: 1 }), 1_000);
  assert.deepEqual(reg.window(reg.get('svc-1')!), { calls: 65, faults: 6 });
  reg.ingest(hb({ seq: 2, ok: 99 }), 1_500);
  assert.equal(reg.get('svc-1')!.hb.ok, 10, 'the figures of a duplicate or late heartbeat are ignored');
  // ...but it shows the worker alive: silence counts from it (a forged high seq cannot silence the real worker).
  reg.sweep(4_499);
  assert.equal(reg.get('svc-1')!.lost, false);
  reg.sweep(4_501);
  assert.equal(reg.get('svc-1')!.lost, true);
  reg.ingest(hb({ seq: 3 }), 4_600);
  reg.sweep(4_600 + policy.forgetAfterMs + 1);
  assert.deepEqual(events, ['joined', 'lost', 'returned', 'lost', 'forgotten']);
});

test('validators: hostile heartbeats, commands and supervisor heartbeats are refused with a reason', () => {
  assert.equal(checkHeartbeat(hb()), null);
  for (const bad of [null, [], hb({ v: 2 as 1 }), hb({ id: 'a.b' }), hb({ service: '_x' }), hb({ state: 'zombie' as 'serving' }), hb({ ok: -1 }), hb({ p99Ms: Infinity }), hb({ failed: { X: -1 } }), { ...hb(), healthy: 'yes' }]) {
    assert.notEqual(checkHeartbeat(bad), null, JSON.stringify(bad));
  }
  const cmd = { v: 1, id: 'c', cmd: 'drain', target: 'svc-1', from: 'sup', ts: 1 };
  assert.equal(checkControlCommand(cmd), null);
  for (const bad of [{ ...cmd, cmd: 'rm -rf' }, { ...cmd, target: '>' }, { ...cmd, ts: -1 }, { ...cmd, from: '' }, { ...cmd, reason: 'x'.repeat(2_000) }]) {
    assert.notEqual(checkControlCommand(bad), null, JSON.stringify(bad).slice(0, 80));
  }
  const sup = { v: 1, id: 's', startedAt: 1, ts: 1, intervalMs: 1_000, leader: true, deadlines: { math: { defaultMs: 1_000, maxMs: 5_000 }, '*': { defaultMs: 5_000, maxMs: 30_000 } } };
  assert.equal(checkSupervisorHeartbeat(sup), null);
  assert.match(checkSupervisorHeartbeat({ ...sup, deadlines: { math: { defaultMs: 9_000, maxMs: 5_000 } } }) ?? '', /defaultMs above maxMs/);
  assert.match(checkSupervisorHeartbeat({ ...sup, deadlines: { 'a.b': { defaultMs: 1, maxMs: 1 } } }) ?? '', /invalid service/);
});
