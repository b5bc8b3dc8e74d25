/**
 * The supervisor's ejection decisions in the cases a supervisor meets after the fact, as pure
 * functions without NATS: workers found out of service with no ejection known, a service with no
 * serving worker left, and workers that come back after being lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkerHeartbeat } from '../src/protocol/heartbeat.js';
import { decide, RESUME_SETTLE_INTERVALS, type Decision, type WorkerView } from '../src/supervisor/ejection.js';
import { resolvePolicy, type HealthVerdict } from '../src/supervisor/policy.js';
import { WorkerRegistry } from '../src/supervisor/registry.js';
import { checkSupervisorEvent } from '../src/protocol/supervisor-envelopes.js';
import { checkHeartbeat } from '../src/protocol/heartbeat.js';

const policy = resolvePolicy({ baseEjectionMs: 10_000 });
const healthy: HealthVerdict = { healthy: true, reasons: [], codes: [], figures: {} };
const sick: HealthVerdict = { healthy: false, reasons: ['5 consecutive INTERNAL failures (limit 5)'], codes: ['consecutive_faults'], figures: { consecutiveFaults: 5 } };
const stalled: HealthVerdict = { healthy: false, reasons: ['main loop stalled for 4000 ms (limit 3000)'], codes: ['stalled'], figures: { stalledMs: 4_000 } };

function view(id: string, over: Partial<WorkerView> = {}): WorkerView {
  return { id, service: 'svc', state: 'serving', lost: false, health: healthy, standing: healthy, ejection: null, ejections: 0, shutdownSent: false, intervalMs: 1_000, ...over };
}
const kinds = (ds: Decision[]) => ds.map((d) => `${d.kind} ${d.workerId}`).sort();

test('a drained worker this supervisor never ejected is held as ejected for the base period from when it was first seen so, then resumed when healthy', () => {
  const orphan = view('a', { state: 'drained', outOfServiceSince: 5_000 });
  const others = [view('b'), view('c')];
  assert.deepEqual(decide([orphan, ...others], 14_999, policy, 1_000), [], 'kept out until its base period is over');
  const resume = decide([orphan, ...others], 15_000, policy, 1_000);
  assert.deepEqual(kinds(resume), ['resume a']);
  assert.match(resume[0]!.reason, /no ejection known/);
  assert.deepEqual(decide([{ ...orphan, standing: stalled }, ...others], 15_000, policy, 1_000), [], 'not while it still stalls');
  // One that stays draining is more likely stopping: it is not told to resume.
  assert.deepEqual(decide([{ ...orphan, state: 'draining' }, ...others], 60_000, policy, 1_000), []);
});

test('a worker out of service with no ejection known counts against the drain budget', () => {
  // 4 live workers, budget 2 at 50%: one found drained, so only one more may be drained.
  const ws = [view('a', { state: 'drained', outOfServiceSince: 0 }), view('b', { health: sick }), view('c', { health: sick }), view('d')];
  assert.deepEqual(kinds(decide(ws, 1_000, policy, 1_000)), ['drain b', 'withheld c']);
  const draining = [view('a', { state: 'draining', outOfServiceSince: 0 }), view('b', { health: sick }), view('c', { health: sick }), view('d')];
  assert.deepEqual(kinds(decide(draining, 1_000, policy, 1_000)), ['drain b', 'withheld c']);
});

test('a worker whose heartbeats still say drained just after its resume was acknowledged counts as serving', () => {
  const settling = view('a', { state: 'drained', outOfServiceSince: 0, resumedAt: 50_000 });
  const ws = [settling, view('b', { health: sick }), view('c')];
  const at = (now: number) => kinds(decide(ws, now, policy, 1_000));
  assert.deepEqual(at(50_000 + RESUME_SETTLE_INTERVALS * 1_000 - 1), ['drain b'], 'serving: no second resume, and it makes room in the budget');
  assert.deepEqual(at(50_000 + RESUME_SETTLE_INTERVALS * 1_000), ['resume a', 'withheld b'], 'still drained after that: out of service again');
});

test('with no serving worker left, the healthiest ejected worker is resumed at once', () => {
  const ejection = (until: number) => ({ until, count: 1, sentAt: 0, acked: true });
  const a = view('a', { state: 'drained', ejection: ejection(300_000), standing: stalled });
  const b = view('b', { state: 'drained', ejection: ejection(200_000), health: sick });
  const c = view('c', { state: 'drained', ejection: ejection(100_000), health: sick, standing: stalled });
  const dead = view('d', { lost: true });
  const d = decide([a, b, c, dead], 1_000, policy, 1_000);
  assert.deepEqual(kinds(d), ['resume b'], 'one of them, the one that is healthy without calls');
  assert.match(d[0]!.reason, /no serving worker left in svc/);
  // Among the unhealthy, the fewest reasons, then the earliest end of ejection.
  assert.deepEqual(kinds(decide([a, c], 1_000, policy, 1_000)), ['resume a'], 'c also has call faults');
  assert.deepEqual(kinds(decide([a, { ...c, health: healthy }], 1_000, policy, 1_000)), ['resume c'], 'c would be back sooner');
  // Not while someone still serves, or a resume already brings one back.
  assert.deepEqual(decide([a, b, view('e', { health: sick })], 1_000, policy, 1_000).filter((x) => x.kind === 'resume'), []);
  assert.deepEqual(kinds(decide([a, { ...b, ejection: ejection(500) }], 1_000, policy, 1_000)), ['resume b']);
  // A worker found drained with no ejection known is a candidate too; one still draining is not.
  assert.deepEqual(kinds(decide([view('f', { state: 'drained', outOfServiceSince: 900 })], 1_000, policy, 1_000)), ['resume f']);
  assert.deepEqual(decide([view('f', { state: 'draining', ejection: ejection(300_000) }), view('g', { state: 'draining', outOfServiceSince: 900 })], 1_000, policy, 1_000).map((x) => x.workerId), ['f']);
});

test('a worker back from lost is drained at once, counted as an ejection, within the budget and never the last', () => {
  const back = view('a', { returnedAt: 1_000 });
  const d = decide([back, view('b'), view('c')], 1_000, policy, 1_000);
  assert.deepEqual(kinds(d), ['drain a']);
  assert.match(d[0]!.reason, /returned after being lost/);
  assert.equal((d[0] as { until: number }).until, 1_000 + policy.baseEjectionMs);
  const again = decide([{ ...back, ejections: 1 }, view('b')], 1_000, policy, 1_000)[0] as { until: number };
  assert.equal(again.until, 1_000 + 2 * policy.baseEjectionMs, 'a repeat ejection lasts longer');
  assert.deepEqual(kinds(decide([back], 1_000, policy, 1_000)), ['withheld a'], 'the last serving worker stays');
  // Once its would-be ejection period has passed without a drain, it is not drained for it any more.
  assert.deepEqual(decide([back, view('b'), view('c')], 1_000 + policy.baseEjectionMs, policy, 1_000), []);
});

function hb(over: Partial<WorkerHeartbeat>): WorkerHeartbeat {
  return {
    v: 1, id: 'svc-1', service: 'svc', version: '1.0.0', host: 'h', pid: 1, serverId: 'S', clientId: 1, state: 'serving',
    seq: 1, ts: 1, startedAt: 1, intervalMs: 1_000, inFlight: 0, concurrency: 8, received: 0, ok: 0, failed: {}, expired: 0,
    overruns: 0, consecutiveFaults: 0, p50Ms: 1, p99Ms: 2, loopDelayP99Ms: 10, stalledMs: 0, rssBytes: 1, overdue: 0, healthy: null,
    ...over,
  };
}

test('registry: when a worker was first seen out of service, and when it came back from lost', () => {
  const reg = new WorkerRegistry(policy);
  reg.ingest(hb({ seq: 1, state: 'drained' }), 100);
  const rec = reg.get('svc-1')!;
  assert.equal(rec.outOfServiceSince, 100, 'found drained on its first heartbeat');
  reg.ingest(hb({ seq: 2, state: 'drained' }), 1_100);
  assert.equal(rec.outOfServiceSince, 100, 'from when it was first seen so');
  reg.ingest(hb({ seq: 3, state: 'serving' }), 2_100);
  assert.equal(rec.outOfServiceSince, null);
  reg.ingest(hb({ seq: 4, state: 'draining' }), 3_100);
  assert.equal(rec.outOfServiceSince, 3_100);
  assert.equal(rec.returnedAt, null);
  reg.sweep(10_000);
  assert.equal(rec.lost, true);
  reg.ingest(hb({ seq: 5 }), 10_500);
  assert.deepEqual([rec.lost, rec.returnedAt], [false, 10_500]);
});

test('registry transitions: ejected, drain acknowledged, resumed; only the registry changes a record, and a stale one is ignored', () => {
  const reg = new WorkerRegistry(policy);
  reg.ingest(hb({ seq: 1 }), 0);
  const rec = reg.get('svc-1')!;
  reg.ejected(rec, 1_000, { periodMs: 10_000, count: 1, reason: '5 consecutive INTERNAL failures (limit 5)', code: 'consecutive_faults', shutdown: false, commanded: true, since: 1_000 });
  assert.deepEqual({ ...rec.ejection }, { since: 1_000, until: 11_000, count: 1, reason: '5 consecutive INTERNAL failures (limit 5)', code: 'consecutive_faults', sentAt: 1_000, acked: false });
  assert.deepEqual({ ...rec.drainsByReason }, { consecutive_faults: 1 }, 'counted by its code');
  reg.drainResent(rec, 3_000);
  reg.drainAcknowledged(rec);
  assert.deepEqual([rec.ejection!.sentAt, rec.ejection!.acked], [3_000, true]);
  reg.resumed(rec, 12_000);
  assert.deepEqual([rec.ejection, rec.resumedAt, rec.outOfServiceSince], [null, 12_000, null]);
  // Forgotten and heard again: the old record is stale and its transitions do nothing.
  reg.sweep(10_000_000);
  assert.equal(reg.get('svc-1'), undefined);
  reg.ingest(hb({ seq: 1, startedAt: 2 }), 10_000_001);
  reg.ejected(rec, 10_000_002, { periodMs: 1, count: 1, reason: 'x', code: 'other', shutdown: true, commanded: true, since: 0 });
  assert.equal(reg.get('svc-1')!.ejection, null, 'a transition on a stale record does nothing');
});

test('registry: a standby follows the leader\'s ejection by its typed remaining ejectionMs, on its own clock', () => {
  const reg = new WorkerRegistry(policy);
  reg.ingest(hb({ seq: 1 }), 0);
  const rec = reg.get('svc-1')!;
  // The leader's clock is far off (ts): only the duration is read.
  const ev = { v: 1 as const, ts: 999_999_999, supervisor: 'sup-a', kind: 'drain' as const, service: 'svc', workerId: 'svc-1', reason: 'r', code: 'stalled', ejectionMs: 20_000, ejection: 2, figures: { until: 1 } };
  assert.equal(checkSupervisorEvent(ev), null);
  reg.followed(rec, ev, 5_000);
  assert.deepEqual([rec.ejection!.until, rec.ejection!.count, rec.ejection!.code, rec.ejection!.acked], [25_000, 2, 'stalled', true]);
  assert.deepEqual({ ...rec.drainsByReason }, {}, 'a followed ejection is not counted as this supervisor\'s drain');
  reg.followed(rec, { ...ev, kind: 'resume' }, 6_000);
  assert.equal(rec.ejection, null);
  // Without ejectionMs (an older leader), the policy's period for the count.
  reg.followed(rec, { ...ev, ejectionMs: undefined, ejection: 3 }, 7_000);
  assert.equal(rec.ejection!.until, 7_000 + 3 * policy.baseEjectionMs);
});

test('registry: a worker\'s broker connection closing makes it lost once, by its latest heartbeat\'s ids; a stopped worker\'s is no loss', () => {
  const reg = new WorkerRegistry(policy);
  const events: [string, string | undefined][] = [];
  reg.onEvent((e, _r, _f, code) => events.push([e, code]));
  reg.ingest(hb({ seq: 1, serverId: 'S1', clientId: 5 }), 0);
  reg.ingest(hb({ seq: 2, serverId: 'S1', clientId: 9 }), 100); // reconnected: a new connection
  assert.equal(reg.byConnection('S1', 5), undefined, 'the old connection is no longer the worker\'s');
  const rec = reg.byConnection('S1', 9)!;
  assert.equal(rec.id, 'svc-1');
  assert.equal(reg.connectionClosed(rec, 200), true);
  assert.equal(reg.connectionClosed(rec, 300), false, 'lost once');
  assert.deepEqual(reg.sweep(100_000).length, 0, 'silence later does not make it lost again');
  assert.deepEqual(events.slice(0, 2), [['joined', undefined], ['lost', 'connection_closed']]);
  reg.ingest(hb({ id: 'svc-2', seq: 1, serverId: 'S1', clientId: 11, final: true, state: 'stopped' }), 0);
  assert.equal(reg.connectionClosed(reg.byConnection('S1', 11)!, 10), false, 'a worker that said it stopped is not lost');
});

test('decisions carry stable reason codes and the ejection period; hostile values of the new event and heartbeat fields are refused', () => {
  const drains = decide([view('a', { health: sick }), view('b'), view('c')], 1_000, policy, 1_000);
  assert.equal(drains.length, 1);
  const d = drains[0]!;
  assert.ok(d.kind === 'drain');
  assert.deepEqual([d.code, d.periodMs, d.count, d.until], ['consecutive_faults', policy.baseEjectionMs, 1, 1_000 + policy.baseEjectionMs]);
  const back = decide([view('a', { returnedAt: 500 }), view('b'), view('c')], 1_000, policy, 1_000);
  assert.deepEqual(back.map((x) => x.code), ['returned_after_lost']);
  const ev = { v: 1, ts: 1, supervisor: 's', kind: 'drain', service: 'svc', reason: 'r' };
  assert.equal(checkSupervisorEvent({ ...ev, code: 'consecutive_faults', ejectionMs: 0, ejection: 1 }), null);
  for (const bad of [{ code: 'Has Spaces' }, { code: 7 }, { code: '' }, { ejectionMs: -1 }, { ejectionMs: 1.5 }, { ejectionMs: 86_400_001 }, { ejection: 0 }, { ejection: '2' }]) {
    assert.notEqual(checkSupervisorEvent({ ...ev, ...bad }), null, JSON.stringify(bad));
  }
  assert.equal(checkHeartbeat(hb({ early: true })), null);
  assert.notEqual(checkHeartbeat({ ...hb({}), early: "yes" }), null);
});
