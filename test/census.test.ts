/**
 * The ordered census (src/client/census.ts) with a fake clock and a fake broker: when a round
 * starts, whom it probes, when it concludes that unacknowledged attempts were with a lost worker,
 * and when it must not (a worker that does not answer, answers without the census promise, or was
 * heard from for the first time during the round). With the call engine: a killed worker's
 * unacknowledged plain call ends WORKER_LOST, an idempotent one is sent again, and a drained worker
 * found gone later ends nothing sent after it went quiet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Call } from '../src/client/call-engine.js';
import type { CallSpec } from '../src/client/client-options.js';
import { DEFAULT_RETRY_POLICY, resolveLostWorkerPolicy } from '../src/client/call-options.js';
import { LOSS_HORIZON_MS, MAX_WORKERS_PER_SERVICE, QUIET_AFTER_MS, SUSPECT_AFTER_MS, WorkerCensus } from '../src/client/census.js';
import { LatencyTracker } from '../src/client/hedging.js';
import { LivenessProber } from '../src/client/liveness.js';
import { RetryBudget } from '../src/client/retry-budget.js';
import { encode } from '../src/protocol/codec.js';
import type { RpcError } from '../src/protocol/errors.js';
import { FakeTransport, settle, type Sent } from './helpers/fake-transport.js';

const LOST_WORKER = resolveLostWorkerPolicy(undefined);

/** A census wired to a fake broker as the client wires it: losses and conclusions reach every entry. */
function setup() {
  const t = new FakeTransport();
  const prober = new LivenessProber(t);
  const gone: string[] = [];
  const concluded: Array<[string, number]> = [];
  const census = new WorkerCensus(t.clock, prober, LOST_WORKER.probeTimeoutMs, {
    gone: (service, workerId) => {
      gone.push(workerId);
      const now = t.clock.now();
      for (const e of [...t.entries.values()]) e.workerLost(service, workerId, now, false);
    },
    concluded: (service, before) => {
      concluded.push([service, before]);
      for (const e of [...t.entries.values()]) e.census?.(service, before);
    },
  });
  t.suspect = (service) => census.suspect(service);
  t.sawWorker = (service, workerId) => census.saw(service, workerId);
  return { t, census, prober, gone, concluded };
}

function call(t: FakeTransport, idempotent = false) {
  const target = { service: 'svc', method: 'run', subject: 'rpc.svc.run', budget: new RetryBudget({ ratio: 0.1, burst: 10 }), latency: new LatencyTracker() };
  const spec: CallSpec = {
    target,
    payload: null,
    headers: undefined,
    timeoutMs: 15_000,
    signal: undefined,
    idempotent,
    retry: DEFAULT_RETRY_POLICY,
    hedge: undefined,
    waitForWorkers: false,
    waitForConnection: false,
    lostWorker: LOST_WORKER,
  };
  const c = new Call(t, new LivenessProber(t), spec, `req-${t.sent.length}`);
  const outcome = c.promise.then(
    (value) => ({ ok: true as const, value }),
    (err: RpcError) => ({ ok: false as const, err }),
  );
  return { call: c, outcome, target };
}

/** Probes sent to `workerId` not answered yet. */
function probesOf(t: FakeTransport, workerId: string): Sent[] {
  return t.probes().filter((p) => p.subject.endsWith(`.${workerId}`) && t.entries.has(p.token));
}

/**
 * The worker's answer: `census` says the acks of what it holds were sent first, `group` whether it
 * is in its queue group (false while it drains).
 */
function pong(t: FakeTransport, probe: Sent, census = true, group = true): void {
  t.entryOf(probe).frame!(encode(census ? { v: 1, worker: 'w', census: true, group } : { v: 1, worker: 'w' }), false);
}

function gone503(t: FakeTransport, probe: Sent): void {
  t.entryOf(probe).frame!(new Uint8Array(0), true);
}

test('a killed worker: a silent attempt starts a round that probes every worker heard from; once the others answer, the unacknowledged plain call fails WORKER_LOST', async () => {
  const { t, gone, concluded } = setup();
  t.sawWorker('svc', 'w1');
  t.sawWorker('svc', 'w2');
  const stuck = call(t); // sits unread in w1's socket when w1 is killed
  const served = call(t);
  t.entryOf(t.requests()[1]!).acked('w2'); // w2 holds this one
  await t.clock.advance(SUSPECT_AFTER_MS);
  t.checkAcks();
  const roundAt = t.clock.now();
  assert.equal(probesOf(t, 'w1').length, 1);
  assert.equal(probesOf(t, 'w2').length, 1, 'every worker heard from, not only the silent ones');
  gone503(t, probesOf(t, 'w1')[0]!);
  await settle();
  assert.deepEqual(gone, ['w1']);
  assert.equal(stuck.call.state, 'in-flight', 'w2 has not answered: it may hold the call unacknowledged');
  pong(t, probesOf(t, 'w2')[0]!);
  await settle();
  assert.deepEqual(concluded, [['svc', roundAt]]);
  const r = await stuck.outcome;
  assert.ok(!r.ok && r.err.code === 'WORKER_LOST' && r.err.maybeProcessed === true);
  assert.equal(served.call.state, 'in-flight', 'acknowledged by w2, which is alive');
});

test('a round without a verdict: a worker that answers without the census promise, or not at all (frozen), ends nothing', async () => {
  for (const answer of ['unordered', 'none'] as const) {
    const { t, gone, concluded } = setup();
    t.sawWorker('svc', 'w1');
    t.sawWorker('svc', 'w2');
    const stuck = call(t);
    await t.clock.advance(SUSPECT_AFTER_MS);
    t.checkAcks();
    gone503(t, probesOf(t, 'w1')[0]!);
    if (answer === 'unordered') pong(t, probesOf(t, 'w2')[0]!, false);
    await t.clock.advance(LOST_WORKER.probeTimeoutMs);
    assert.deepEqual(gone, ['w1']);
    assert.deepEqual(concluded, [], answer);
    assert.equal(stuck.call.state, 'in-flight', `${answer}: it may hold the call; the call waits`);
  }
});

test('a worker heard from for the first time during a round makes it inconclusive; the next round, which probes it too, concludes', async () => {
  const { t, census, concluded } = setup();
  t.sawWorker('svc', 'w1');
  const stuck = call(t);
  await t.clock.advance(SUSPECT_AFTER_MS);
  t.checkAcks();
  assert.equal(census.rounds, 1);
  t.sawWorker('svc', 'w3'); // a new worker acks another call during the round
  assert.equal(census.rounds, 2, 'a second round at once, which probes it');
  for (const p of probesOf(t, 'w1')) gone503(t, p);
  await settle();
  assert.deepEqual(concluded, [], 'w3 was not probed by the first round: it may hold the silent call');
  pong(t, probesOf(t, 'w3')[0]!);
  await settle();
  assert.equal(concluded.length, 1);
  assert.ok(!(await stuck.outcome).ok);
});

test('suspicion starts at most one round per SUSPECT_AFTER_MS per service', async () => {
  const { t, census } = setup();
  t.sawWorker('svc', 'w1');
  census.suspect('svc');
  census.suspect('svc');
  assert.equal(census.rounds, 1);
  pong(t, probesOf(t, 'w1')[0]!);
  await settle();
  census.suspect('svc');
  assert.equal(census.rounds, 1, 'the last round started less than SUSPECT_AFTER_MS ago');
  await t.clock.advance(SUSPECT_AFTER_MS);
  census.suspect('svc');
  assert.equal(census.rounds, 2);
  census.suspect('unknown-service');
  assert.equal(census.rounds, 2, 'a service with no worker heard from has nothing to count');
});

test('a round held up by a probe nobody answers (the worker was killed with it unread) does not hold up the next one', async () => {
  const { t, census, gone, concluded } = setup();
  t.sawWorker('svc', 'w1');
  t.sawWorker('svc', 'w2');
  census.suspect('svc'); // a round just before the kill: w1 dies with its probe unread
  pong(t, probesOf(t, 'w2')[0]!);
  const stuck = call(t);
  await t.clock.advance(SUSPECT_AFTER_MS);
  t.checkAcks();
  assert.equal(census.rounds, 2, 'the first round still waits on w1');
  const [second] = probesOf(t, 'w1').slice(-1);
  gone503(t, second!);
  pong(t, probesOf(t, 'w2')[0]!);
  await settle();
  assert.deepEqual(gone, ['w1']);
  assert.equal(concluded.length, 1);
  assert.ok(!(await stuck.outcome).ok);
  await t.clock.advance(LOST_WORKER.probeTimeoutMs); // the first round ends without a verdict
  assert.equal(concluded.length, 1);
});

test('a loss found elsewhere (an acknowledged attempt probed, a verdict) starts a round at once; the idempotent call is sent again at once, without budget', async () => {
  const { t, census, concluded } = setup();
  t.sawWorker('svc', 'w1');
  t.sawWorker('svc', 'w2');
  const c = call(t, true);
  const spent = c.target.budget.spent;
  await t.clock.advance(5);
  census.lost('svc', 'w1');
  assert.equal(probesOf(t, 'w1').length, 0, 'the lost worker is not probed');
  pong(t, probesOf(t, 'w2')[0]!);
  await t.clock.advance(0);
  assert.equal(concluded.length, 1);
  const second = t.requests()[1]!;
  assert.equal(second.req!.attempt, 2);
  assert.equal(c.target.budget.spent, spent);
  t.reply(second, 'ok');
  assert.deepEqual(await c.outcome, { ok: true, value: 'ok' });
});

test('a worker gone quiet while its peers still acknowledge is probed alone; found draining, and gone later, it ends nothing sent after it was found so', async () => {
  const { t, census, gone, concluded } = setup();
  t.sawWorker('svc', 'old');
  t.sawWorker('svc', 'w2');
  for (let i = 0; i < 3; i++) {
    await t.clock.advance(QUIET_AFTER_MS / 3);
    t.sawWorker('svc', 'w2');
  }
  census.sweep();
  assert.equal(probesOf(t, 'w2').length, 0, 'w2 acknowledges: not probed');
  const [quiet] = probesOf(t, 'old');
  assert.ok(quiet, 'old has been silent for QUIET_AFTER_MS while w2 acknowledged');
  pong(t, quiet!, true, false); // alive but outside its queue group: it drains, serving what it took
  await settle();
  census.sweep();
  assert.equal(probesOf(t, 'old').length, 0, 'not probed alone again in the same silence');
  await t.clock.advance(10);
  const later = call(t); // sits unread in a new worker's socket
  await t.clock.advance(SUSPECT_AFTER_MS);
  t.checkAcks();
  gone503(t, probesOf(t, 'old')[0]!); // old has stopped and closed its connection
  pong(t, probesOf(t, 'w2')[0]!);
  await settle();
  assert.deepEqual(gone, ['old']);
  assert.equal(concluded.length, 1);
  assert.ok(concluded[0]![1] < t.clock.now() - SUSPECT_AFTER_MS, 'the cutoff is when old was found draining');
  assert.equal(later.call.state, 'in-flight', 'sent after old left its queue group: not with it');
});

test('a quiet worker found in its queue group (idle, or low traffic) is still taken as able to hold what was sent since', async () => {
  const { t, census, concluded } = setup();
  t.sawWorker('svc', 'w1');
  await t.clock.advance(QUIET_AFTER_MS);
  t.sawWorker('svc', 'w2');
  census.sweep();
  pong(t, probesOf(t, 'w1')[0]!); // in its group: it just got none of this client's few calls
  await settle();
  const stuck = call(t); // routed to w1, which is killed with it unread
  await t.clock.advance(SUSPECT_AFTER_MS);
  t.checkAcks();
  gone503(t, probesOf(t, 'w1')[0]!);
  pong(t, probesOf(t, 'w2')[0]!);
  await settle();
  assert.equal(concluded.length, 1);
  assert.ok(!(await stuck.outcome).ok, 'lost with w1');
});

test('a quiet worker found gone by its probe alone starts a round', async () => {
  const { t, census, gone } = setup();
  t.sawWorker('svc', 'dead');
  await t.clock.advance(QUIET_AFTER_MS);
  t.sawWorker('svc', 'w2');
  census.sweep();
  gone503(t, probesOf(t, 'dead')[0]!);
  await settle();
  assert.deepEqual(gone, ['dead']);
  assert.equal(census.rounds, 1);
  assert.equal(probesOf(t, 'w2').length, 1);
});

test('a worker silent for longer than LOSS_HORIZON_MS before it is found gone (the fleet was replaced) ends nothing sent after its last ack plus the horizon', async () => {
  const { t, census, concluded } = setup();
  t.sawWorker('svc', 'old'); // served this client, then stopped; new workers took over
  const early = call(t); // sent while old served (unacknowledged: it was with old)
  await t.clock.advance(LOSS_HORIZON_MS + 1);
  const late = call(t); // routed to a new worker this client has not heard from yet
  await t.clock.advance(SUSPECT_AFTER_MS);
  t.checkAcks();
  gone503(t, probesOf(t, 'old')[0]!);
  await settle();
  assert.equal(concluded.length, 1);
  assert.ok(!(await early.outcome).ok, 'sent while old served: lost with it');
  assert.equal(late.call.state, 'in-flight', 'sent after old went silent: not taken for lost');
  census.lost('svc', 'old'); // the same loss reported again (a probe of an acknowledged call): no new, later loss
  await settle();
  assert.equal(late.call.state, 'in-flight');
});

test('workers remembered per service are bounded; the one heard from longest ago is forgotten', async () => {
  const { t, census } = setup();
  for (let i = 0; i <= MAX_WORKERS_PER_SERVICE; i++) {
    t.sawWorker('svc', `w${i}`);
    await t.clock.advance(1);
  }
  census.suspect('svc');
  assert.equal(t.probes().length, MAX_WORKERS_PER_SERVICE);
  assert.equal(probesOf(t, 'w0').length, 0);
});
