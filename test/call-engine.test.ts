/**
 * The call engine driven through its transport interface with a fake clock: retries, hedges,
 * acks, probes, deadlines, worker losses and reconnects, deterministically. The real-broker tests
 * (roundtrip, resilience, hedging-cancel, connection-wait) cover the same paths end to end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Call, QUERY_OF_DEATH_LOSSES } from '../src/client/call-engine.js';
import type { CallSpec } from '../src/client/client-options.js';
import { DEFAULT_RETRY_POLICY, resolveHedgePolicy, resolveLostWorkerPolicy, resolveRetryPolicy } from '../src/client/call-options.js';
import { LatencyTracker } from '../src/client/hedging.js';
import { LivenessProber } from '../src/client/liveness.js';
import { RetryBudget } from '../src/client/retry-budget.js';
import { backoffCapMs, MAX_SILENCE_RESENDS } from '../src/client/retry-policy.js';
import { CODE_MEANING, RpcError } from '../src/protocol/errors.js';
import { SUSPECT_AFTER_MS } from '../src/client/census.js';
import { FakeTransport, settle } from './helpers/fake-transport.js';
import { STREAM_REPLY_MOVE_MS } from '../src/client/stream-replies.js';

const LOST_WORKER = resolveLostWorkerPolicy(undefined);

function setup(overrides: Partial<CallSpec> = {}) {
  const t = new FakeTransport();
  const prober = new LivenessProber(t);
  const target = { service: 'svc', method: 'run', subject: 'rpc.svc.run', budget: new RetryBudget({ ratio: 0.1, burst: 10 }), latency: new LatencyTracker() };
  const spec: CallSpec = {
    target,
    payload: { x: 1 },
    headers: undefined,
    timeoutMs: 2_000,
    signal: undefined,
    idempotent: false,
    retry: DEFAULT_RETRY_POLICY,
    hedge: undefined,
    waitForWorkers: false,
    waitForConnection: false,
    lostWorker: LOST_WORKER,
    ...overrides,
  };
  let done = 0;
  const call = new Call(t, prober, spec, 'req-1', () => done++);
  const outcome = call.promise.then(
    (value) => ({ ok: true as const, value }),
    (err: RpcError) => ({ ok: false as const, err }),
  );
  return { t, call, outcome, target, doneCount: () => done };
}

test('a plain call is one attempt: one publish, its reply resolves it, nothing is left behind', async () => {
  const { t, call, outcome, doneCount } = setup();
  assert.equal(call.state, 'in-flight');
  const [req] = t.requests();
  assert.equal(req!.req!.attempt, 1);
  assert.equal(req!.req!.ack, undefined, 'a plain call asks for no ack before its handler');
  assert.equal(req!.req!.lateAck, true, 'only one if its handler does not finish at once');
  assert.equal(req!.req!.budgetMs, 2_000);
  t.reply(req!, 42);
  assert.deepEqual(await outcome, { ok: true, value: 42 });
  assert.equal(call.state, 'done');
  assert.equal(t.entries.size, 0);
  assert.equal(t.deadlines.delete(call), false, 'its deadline is no longer queued');
  assert.equal(doneCount(), 1);
});

test('a plain call with no reply ends in TIMEOUT at its deadline and sends a cancel', async () => {
  const { t, call, outcome } = setup({ timeoutMs: 300 });
  await t.clock.advance(299);
  assert.equal(call.state, 'in-flight');
  await t.clock.advance(10);
  const r = await outcome;
  assert.ok(!r.ok && r.err.code === 'TIMEOUT' && r.err.maybeProcessed);
  const [cancel] = t.cancels();
  assert.equal(cancel!.subject, 'rpc._cancel.svc');
  const [request] = t.requests();
  assert.deepEqual(cancel!.body, { v: 1, id: 'req-1', replies: [request!.token], deadline: true }, 'the handler is aborted as by its own deadline; the cancel names the attempt by its reply token');
});

test('at its deadline a call ends TIMEOUT as the error table says (not retryable, maybe processed), idempotent or not', async () => {
  for (const idempotent of [false, true]) {
    const { t, outcome } = setup({ timeoutMs: 300, idempotent });
    await t.clock.advance(310);
    const r = await outcome;
    assert.ok(!r.ok && r.err.code === 'TIMEOUT', `idempotent: ${idempotent}`);
    // An idempotent call was already sent again within its deadline where the rules allowed; a
    // caller that calls it again does so knowing it is idempotent, not because the error says so.
    assert.equal(r.err.retryable, CODE_MEANING.TIMEOUT.retryable, `idempotent: ${idempotent}`);
    assert.equal(r.err.retryable, false);
    assert.equal(r.err.maybeProcessed, CODE_MEANING.TIMEOUT.maybeProcessed);
  }
});

test('a retryable refusal backs off and sends again; the reply of the retry wins', async () => {
  const { t, call, outcome } = setup();
  t.fail(t.requests()[0]!, 'OVERLOADED', true);
  assert.equal(call.state, 'backing-off');
  await t.clock.advance(DEFAULT_RETRY_POLICY.initialBackoffMs);
  const retry = t.requests()[1]!;
  assert.equal(retry.req!.attempt, 2);
  assert.equal(call.state, 'in-flight');
  t.reply(retry, 'ok');
  assert.deepEqual(await outcome, { ok: true, value: 'ok' });
});

test('a refusal that may have been processed is not retried for a plain call', async () => {
  const { t, outcome } = setup();
  t.fail(t.requests()[0]!, 'OVERLOADED', false);
  const r = await outcome;
  assert.ok(!r.ok && r.err.code === 'OVERLOADED' && r.err.maybeProcessed);
  assert.equal(t.requests().length, 1);
});

test('idempotent: no ack within ackTimeoutMs sends one more attempt, acked before its handler, and keeps waiting on the first', async () => {
  const { t, outcome } = setup({ idempotent: true });
  const first = t.requests()[0]!;
  assert.equal(first.req!.ack, undefined, 'a first attempt is acked only if its handler does not finish at once');
  assert.equal(first.req!.lateAck, true);
  assert.equal(first.req!.cancellable, undefined, 'found by the worker without its index, should a cancel come');
  await t.clock.advance(LOST_WORKER.ackTimeoutMs - 1);
  t.checkAcks();
  assert.equal(t.requests().length, 1);
  await t.clock.advance(1);
  t.checkAcks(); // the client's ack sweep finds it overdue
  assert.equal(t.requests().length, 2);
  const second = t.requests()[1]!;
  assert.equal(second.req!.ack, true, 'a later attempt is acked before its handler (query of death)');
  assert.equal(second.req!.lateAck, undefined);
  await t.clock.advance(LOST_WORKER.ackTimeoutMs - 1);
  t.checkAcks();
  assert.equal(t.requests().length, 2, 'no more while the extra attempt is not silent yet');
  await t.clock.advance(1);
  t.checkAcks();
  assert.equal(t.requests().length, 3, 'once both are silent, one more (one attempt not yet silent at a time)');
  const third = t.requests()[2]!;
  t.reply(first, 'first'); // the first attempt answers after all: it wins
  assert.deepEqual(await outcome, { ok: true, value: 'first' });
  assert.deepEqual(t.cancels().map((c) => (c.body as { replies: string[] }).replies), [[second.token, third.token]], 'the other attempts are cancelled');
});

test('idempotent: a late ack within ackTimeoutMs sends nothing more; the sweep leaves an acknowledged attempt to its probes', async () => {
  const { t, call, outcome } = setup({ idempotent: true, timeoutMs: 5_000 });
  const first = t.requests()[0]!;
  await t.clock.advance(LOST_WORKER.ackTimeoutMs - 1);
  t.entryOf(first).acked('svc-w1'); // its handler is still running
  for (let i = 0; i < 5; i++) {
    await t.clock.advance(LOST_WORKER.ackTimeoutMs);
    t.checkAcks();
    t.entryOf(t.probes().at(-1)!).replied({ v: 1, id: '', ok: true, result: null }); // alive
  }
  assert.equal(t.requests().length, 1);
  assert.deepEqual(t.suspected, []);
  assert.equal(call.state, 'in-flight');
  t.reply(first, 'slow');
  assert.deepEqual(await outcome, { ok: true, value: 'slow' });
});

test('idempotent: retry.maxAttempts counts the attempts that were answered, not those that went silent', async () => {
  const { t, outcome } = setup({ idempotent: true, timeoutMs: 5_000 });
  const first = t.requests()[0]!;
  t.fail(first, 'OVERLOADED', true); // attempt 1 refused (counts); attempt 2 after the backoff
  await t.clock.advance(DEFAULT_RETRY_POLICY.maxBackoffMs);
  const second = t.requests()[1]!;
  await t.clock.advance(LOST_WORKER.ackTimeoutMs);
  t.checkAcks();
  assert.equal(t.requests().length, 3, 'one more attempt beside the silent one (which does not count)');
  t.fail(t.requests()[2]!, 'OVERLOADED', true); // counts: 2 of 3
  await t.clock.advance(backoffCapMs(DEFAULT_RETRY_POLICY, 2));
  assert.equal(t.requests().length, 4, 'retried: the silent attempt does not use up maxAttempts');
  t.fail(t.requests()[3]!, 'OVERLOADED', true); // refused at once, 3 of 3: nothing more is sent
  await t.clock.advance(DEFAULT_RETRY_POLICY.maxBackoffMs);
  t.checkAcks();
  assert.equal(t.requests().length, 4);
  t.reply(second, 'second');
  assert.deepEqual(await outcome, { ok: true, value: 'second' });
});

test('idempotent: an acked attempt is probed; a 503 to the probe ends it at once and the call is sent again', async () => {
  const { t, outcome } = setup({ idempotent: true });
  const first = t.requests()[0]!;
  t.entryOf(first).acked('svc-w1');
  await t.clock.advance(LOST_WORKER.probeAfterMs);
  const [probe] = t.probes();
  assert.equal(probe!.subject, 'rpc._ping.svc.svc-w1');
  t.entryOf(probe!).noResponders(); // the broker: nobody subscribed, the worker is gone
  await t.clock.advance(DEFAULT_RETRY_POLICY.initialBackoffMs);
  const second = t.requests()[1]!;
  assert.equal(second.req!.attempt, 2);
  t.reply(second, 'again');
  assert.deepEqual(await outcome, { ok: true, value: 'again' });
});

test('idempotent: a probe that is answered keeps the attempt, probing again every probeIntervalMs', async () => {
  const { t, call } = setup({ idempotent: true, timeoutMs: 5_000 });
  t.entryOf(t.requests()[0]!).acked('svc-w1');
  await t.clock.advance(LOST_WORKER.probeAfterMs);
  t.entryOf(t.probes()[0]!).replied({ v: 1, id: '', ok: true, result: null });
  await t.clock.advance(LOST_WORKER.probeIntervalMs);
  assert.equal(t.probes().length, 2);
  assert.equal(call.state, 'in-flight');
  assert.equal(t.requests().length, 1, 'nothing sent again');
});

test('an acknowledged call still waiting moves every STREAM_REPLY_MOVE_MS to a fresh reply subject; its reply may come on any of the last ones', async () => {
  const { t, outcome } = setup({ timeoutMs: 3 * STREAM_REPLY_MOVE_MS });
  const req = t.requests()[0]!;
  t.entryOf(req).acked('svc-w1');
  const credits = () => t.sent.filter((s) => s.subject === 'rpc._credit.svc.svc-w1');
  // Its worker answers every probe: a live worker whose handler runs long.
  const runFor = async (ms: number) => {
    for (let left = ms; left > 0; left -= LOST_WORKER.probeIntervalMs) {
      await t.clock.advance(Math.min(left, LOST_WORKER.probeIntervalMs));
      for (const p of t.probes()) if (t.entries.has(p.token)) t.entryOf(p).replied({ v: 1, id: '', ok: true, result: null });
    }
  };
  await runFor(STREAM_REPLY_MOVE_MS - 2 * LOST_WORKER.probeIntervalMs);
  assert.equal(credits().length, 0, 'no move before STREAM_REPLY_MOVE_MS');
  await runFor(4 * LOST_WORKER.probeIntervalMs);
  const [move] = credits();
  assert.ok(move !== undefined, 'moved once');
  assert.deepEqual(move.body, { v: 1, id: 'req-1', reply: req.token, items: 0, bytes: 0 }, 'credit naming the call by its request\'s own token');
  assert.notEqual(move.token, req.token);
  await runFor(2 * STREAM_REPLY_MOVE_MS - 4 * LOST_WORKER.probeIntervalMs);
  assert.equal(credits().length, 2, 'moved again');
  assert.ok(t.entries.has(req.token) && t.entries.has(move.token), 'the request\'s own subject and the last two moves stay open');
  t.entryOf(credits()[1]!).replied({ v: 1, id: 'req-1', ok: true, result: 'late' });
  assert.deepEqual(await outcome, { ok: true, value: 'late' });
  assert.equal(t.entries.size, 0, 'every subject it moved to is closed');
});

test('a plain call cut off by a dropped connection is cancelled on its worker once the connection is back', async () => {
  const { t, outcome } = setup({ timeoutMs: 5_000 });
  const req = t.requests()[0]!;
  t.entryOf(req).acked('svc-w1');
  t.disconnect();
  const r = await outcome;
  assert.ok(!r.ok);
  assert.equal(r.err.maybeProcessed, true);
  assert.equal(t.cancels().length, 0, 'nothing can be sent while disconnected');
  t.reconnect();
  await settle();
  const [cancel] = t.cancels();
  assert.ok(cancel !== undefined, 'the cancel goes once connected again');
  assert.deepEqual((cancel.body as { replies: string[] }).replies, [req.token]);
});

test('a plain call held by a worker that is lost fails at once with WORKER_LOST, maybe processed', async () => {
  const { t, outcome } = setup();
  t.entryOf(t.requests()[0]!).acked('svc-w1');
  t.workerLost('svc', 'svc-w1');
  const r = await outcome;
  assert.ok(!r.ok);
  assert.equal(r.err.code, 'WORKER_LOST');
  assert.equal(r.err.maybeProcessed, true);
  assert.equal(r.err.retryable, false);
  assert.equal(t.requests().length, 1, 'a plain call is not sent again');
});

test('a plain call no worker acknowledged ends with WORKER_LOST once it is ackTimeoutMs old after a loss in its service', async () => {
  const { t, call, outcome } = setup();
  await t.clock.advance(100);
  t.workerLost('other', 'other-w1'); // another service: not this call's business
  t.workerLost('svc', 'svc-w9');
  await t.clock.advance(LOST_WORKER.ackTimeoutMs - 100 - 1);
  assert.equal(call.state, 'in-flight', 'a live worker may still answer or ack it');
  await t.clock.advance(1);
  const r = await outcome;
  assert.ok(!r.ok && r.err.code === 'WORKER_LOST');
});

test("a probe's 503 alone (a drained worker closes too) ends a plain call only if that worker acknowledged it", async () => {
  const { t, call } = setup({ timeoutMs: 5_000 });
  await t.clock.advance(LOST_WORKER.ackTimeoutMs);
  t.workerLost('svc', 'svc-w9', false);
  await t.clock.advance(1_000);
  assert.equal(call.state, 'in-flight');
  t.entryOf(t.requests()[0]!).acked('svc-w1');
  t.workerLost('svc', 'svc-w1', false);
  assert.equal(call.state, 'done');
});

test('an attempt sent after the loss, or acknowledged by another worker, is not ended by it', async () => {
  const { t, call } = setup({ timeoutMs: 5_000 });
  t.entryOf(t.requests()[0]!).acked('svc-w2');
  t.workerLost('svc', 'svc-w1');
  await t.clock.advance(1_000);
  assert.equal(call.state, 'in-flight');
});

test('idempotent: a worker lost under the call sends it again; two acknowledged losses are a QUERY_OF_DEATH', async () => {
  const { t, outcome } = setup({ idempotent: true, timeoutMs: 10_000 });
  for (let i = 0; i < QUERY_OF_DEATH_LOSSES; i++) {
    const attempt = t.requests()[i]!;
    t.entryOf(attempt).acked(`svc-w${i}`);
    t.workerLost('svc', `svc-w${i}`);
    await t.clock.advance(DEFAULT_RETRY_POLICY.initialBackoffMs); // the resend, before its ack timeout
  }
  const r = await outcome;
  assert.ok(!r.ok && r.err.code === 'QUERY_OF_DEATH' && r.err.maybeProcessed);
  assert.equal(t.requests().length, QUERY_OF_DEATH_LOSSES);
});

test('hedging: a second attempt after the delay; the first reply wins and the loser is cancelled', async () => {
  const { t, outcome } = setup({ idempotent: true, hedge: resolveHedgePolicy({ delayMs: 40 }) });
  t.entryOf(t.requests()[0]!).acked('svc-w1');
  await t.clock.advance(39);
  assert.equal(t.requests().length, 1);
  await t.clock.advance(1);
  const hedge = t.requests()[1]!;
  t.reply(hedge, 'hedge');
  assert.deepEqual(await outcome, { ok: true, value: 'hedge' });
  assert.deepEqual(t.cancels()[0]!.body, { v: 1, id: 'req-1', replies: [t.requests()[0]!.token] }, 'only the loser is cancelled, by its reply token');
});

test('a definitive error ends the call while a hedge is still out', async () => {
  const { t, outcome } = setup({ idempotent: true, hedge: resolveHedgePolicy({ delayMs: 40 }) });
  await t.clock.advance(40);
  assert.equal(t.requests().length, 2);
  t.fail(t.requests()[0]!, 'INSUFFICIENT_FUNDS', false);
  const r = await outcome;
  assert.ok(!r.ok && r.err.code === 'INSUFFICIENT_FUNDS');
  assert.equal(t.entries.size, 0);
});

test('a per-attempt timeout cancels that attempt and retries an idempotent call', async () => {
  const { t, outcome } = setup({ idempotent: true, retry: resolveRetryPolicy({ perAttemptTimeoutMs: 100 }) });
  const first = t.requests()[0]!;
  t.entryOf(first).acked('svc-w1');
  await t.clock.advance(100);
  assert.deepEqual(t.cancels()[0]!.body, { v: 1, id: 'req-1', replies: [first.token] });
  await t.clock.advance(DEFAULT_RETRY_POLICY.initialBackoffMs);
  t.reply(t.requests()[1]!, 'second');
  assert.deepEqual(await outcome, { ok: true, value: 'second' });
});

test('the connection drops: a plain call fails UNAVAILABLE (maybe processed); an idempotent one waits and is sent again', async () => {
  const plain = setup();
  plain.t.disconnect();
  const r = await plain.outcome;
  assert.ok(!r.ok && r.err.code === 'UNAVAILABLE' && r.err.maybeProcessed);

  const idem = setup({ idempotent: true });
  idem.t.disconnect();
  await settle();
  assert.equal(idem.call.state, 'waiting-for-connection');
  idem.t.reconnect();
  await settle();
  assert.equal(idem.call.state, 'in-flight');
  const again = idem.t.requests()[1]!;
  assert.ok(again.req!.budgetMs <= 2_000);
  idem.t.reply(again, 'back');
  assert.deepEqual(await idem.outcome, { ok: true, value: 'back' });
});

test('waitForConnection: a call made while disconnected waits, and ends UNAVAILABLE at its deadline if none comes', async () => {
  const t0 = new FakeTransport();
  t0.connected = false;
  const { t, outcome } = (() => {
    const prober = new LivenessProber(t0);
    const target = { service: 'svc', method: 'run', subject: 'rpc.svc.run', budget: new RetryBudget({ ratio: 0.1, burst: 10 }), latency: new LatencyTracker() };
    const call = new Call(t0, prober, { target, payload: null, headers: undefined, timeoutMs: 500, signal: undefined, idempotent: false, retry: DEFAULT_RETRY_POLICY, hedge: undefined, waitForWorkers: false, waitForConnection: true, lostWorker: LOST_WORKER }, 'req-2');
    return { t: t0, outcome: call.promise.then(() => null, (e: RpcError) => e) };
  })();
  await t.clock.advance(500);
  const err = await outcome;
  assert.equal(err?.code, 'UNAVAILABLE');
  assert.equal(err?.maybeProcessed, false, 'it was never sent');
  assert.equal(t.requests().length, 0);
});

test('waitForWorkers: NO_RESPONDERS is retried without budget until a worker answers', async () => {
  const { t, outcome } = setup({ waitForWorkers: true, timeoutMs: 5_000 });
  for (let i = 0; i < 20; i++) {
    t.entryOf(t.requests()[i]!).noResponders();
    await t.clock.advance(200);
  }
  t.reply(t.requests()[20]!, 'up');
  assert.deepEqual(await outcome, { ok: true, value: 'up' });
});

test('an abort rejects at once with CANCELLED and cancels the handler', async () => {
  const ac = new AbortController();
  const { t, outcome } = setup({ signal: ac.signal });
  assert.equal(t.requests()[0]!.req!.cancellable, true);
  ac.abort();
  const r = await outcome;
  assert.ok(!r.ok && r.err.code === 'CANCELLED' && r.err.maybeProcessed);
  assert.equal(t.cancels().length, 1);
});

test('idempotent: a worker that holds the attempt but answers no probe (frozen) gets one more attempt beside it', async () => {
  const { t, outcome } = setup({ idempotent: true, timeoutMs: 10_000 });
  t.entryOf(t.requests()[0]!).acked('svc-w1');
  await t.clock.advance(LOST_WORKER.probeAfterMs);
  assert.equal(t.probes().length, 1);
  await t.clock.advance(LOST_WORKER.probeTimeoutMs); // no answer: proves nothing, but the call need not wait
  const second = t.requests()[1]!;
  assert.equal(second.req!.attempt, 2);
  t.reply(second, 'elsewhere');
  assert.deepEqual(await outcome, { ok: true, value: 'elsewhere' });
});


test('an attempt with no ack and no reply for SUSPECT_AFTER_MS makes the client count its service, again each such period while silent; an ack names the worker', async () => {
  const { t } = setup({ timeoutMs: 5_000 });
  t.checkAcks();
  assert.deepEqual(t.suspected, []);
  await t.clock.advance(SUSPECT_AFTER_MS);
  t.checkAcks();
  t.checkAcks();
  assert.deepEqual(t.suspected, ['svc'], 'reported once per period');
  await t.clock.advance(SUSPECT_AFTER_MS);
  t.checkAcks();
  assert.deepEqual(t.suspected, ['svc', 'svc'], 'still silent: reported again');
  t.entryOf(t.requests()[0]!).acked('svc-w1');
  assert.deepEqual(t.seen, [['svc', 'svc-w1']]);
  await t.clock.advance(SUSPECT_AFTER_MS);
  t.checkAcks();
  assert.equal(t.suspected.length, 2, 'an acknowledged attempt is probed at its worker instead');
});

test('census: a plain call no worker acknowledged, sent before the census and the loss, fails WORKER_LOST (maybe processed)', async () => {
  const { t, outcome } = setup({ timeoutMs: 15_000 });
  await t.clock.advance(SUSPECT_AFTER_MS);
  t.entryOf(t.requests()[0]!).census!('other', t.clock.now()); // another service: not its business
  t.entryOf(t.requests()[0]!).census!('svc', t.clock.now());
  const r = await outcome;
  assert.ok(!r.ok);
  assert.equal(r.err.code, 'WORKER_LOST');
  assert.equal(r.err.maybeProcessed, true);
  assert.equal(t.requests().length, 1, 'not sent again');
});

test('census: an acknowledged attempt, or one sent at or after its cutoff, is not ended by it', async () => {
  const { t, call } = setup({ timeoutMs: 15_000 });
  const sentAt = t.clock.now();
  t.entryOf(t.requests()[0]!).census!('svc', sentAt);
  await t.clock.advance(100);
  assert.equal(call.state, 'in-flight', 'sent at the cutoff: a live worker may hold it');
  t.entryOf(t.requests()[0]!).acked('svc-w2');
  t.entryOf(t.requests()[0]!).census!('svc', t.clock.now());
  await t.clock.advance(100);
  assert.equal(call.state, 'in-flight', 'acknowledged by a live worker');
});

test('census: an idempotent call it ends is sent again at once, without spending the retry budget', async () => {
  const { t, outcome, target } = setup({ idempotent: true, timeoutMs: 15_000 });
  const first = t.requests()[0]!;
  await t.clock.advance(SUSPECT_AFTER_MS);
  const spent = target.budget.spent;
  t.entryOf(first).census!('svc', t.clock.now());
  await t.clock.advance(0);
  const second = t.requests()[1]!;
  assert.equal(second.req!.attempt, 2, 'sent again with no backoff');
  assert.equal(target.budget.spent, spent, 'no budget spent');
  t.reply(second, 'again');
  assert.deepEqual(await outcome, { ok: true, value: 'again' });
});

/** Two or more calls of one service on one transport, sharing its retry budget. */
function service(budget: RetryBudget, overrides: Partial<CallSpec> = {}) {
  const t = new FakeTransport();
  const prober = new LivenessProber(t);
  const target = { service: 'svc', method: 'run', subject: 'rpc.svc.run', budget, latency: new LatencyTracker() };
  let n = 0;
  const call = (more: Partial<CallSpec> = {}) => {
    const c = new Call(t, prober, { target, payload: null, headers: undefined, timeoutMs: 4_000, signal: undefined, idempotent: true, retry: DEFAULT_RETRY_POLICY,
      hedge: undefined, waitForWorkers: false, waitForConnection: false, lostWorker: LOST_WORKER, ...overrides, ...more }, `req-${++n}`);
    return { c, outcome: c.promise.then((value) => ({ ok: true as const, value }), (err: RpcError) => ({ ok: false as const, err })) };
  };
  const ofCall = (id: string) => t.requests().filter((r) => r.req!.id === id);
  return { t, call, ofCall };
}

test('idempotent, silent while the service acks later calls promptly: sent again beyond maxAttempts, one at a time, free of the budget, capped', async () => {
  const budget = new RetryBudget({ ratio: 0, burst: 0 }); // not one token: only free resends can go
  const { t, call, ofCall } = service(budget, { timeoutMs: 10_000 });
  const stuck = call(); // its attempts all go to a frozen worker: never acked
  for (let i = 1; i <= MAX_SILENCE_RESENDS + 2; i++) {
    // Meanwhile other calls of the service, sent later, are acked at once (healthy workers).
    await t.clock.advance(1);
    const other = call();
    const [req] = ofCall(`req-${1 + i}`);
    t.entryOf(req!).acked('svc-w2');
    t.reply(req!, 'ok');
    assert.equal((await other.outcome).ok, true);
    await t.clock.advance(LOST_WORKER.ackTimeoutMs - 2);
    t.checkAcks();
    assert.equal(ofCall('req-1').length, Math.min(i, 1 + MAX_SILENCE_RESENDS), 'no new attempt while the last one is not yet silent');
    await t.clock.advance(1);
    t.checkAcks();
  }
  const attempts = ofCall('req-1');
  assert.equal(attempts.length, 1 + MAX_SILENCE_RESENDS, 'capped');
  assert.ok(attempts.length > DEFAULT_RETRY_POLICY.maxAttempts, 'beyond maxAttempts');
  assert.equal(budget.spent, 0);
  t.reply(attempts.at(-1)!, 'late');
  assert.deepEqual(await stuck.outcome, { ok: true, value: 'late' });
  assert.equal(t.cancels().length, 1, 'the silent attempts are cancelled');
});

test('idempotent, silent with no prompt ack in the service (slow as a whole): sent again only with budget', async () => {
  const budget = new RetryBudget({ ratio: 0, burst: 1 });
  const { t, call, ofCall } = service(budget);
  const stuck = call();
  await t.clock.advance(LOST_WORKER.ackTimeoutMs);
  t.checkAcks();
  assert.equal(ofCall('req-1').length, 2, 'one more attempt, paid');
  assert.equal(budget.spent, 1);
  for (let i = 0; i < 4; i++) {
    await t.clock.advance(LOST_WORKER.ackTimeoutMs);
    t.checkAcks();
  }
  assert.equal(ofCall('req-1').length, 2, 'no token left: it waits');
  assert.equal(budget.refused > 0, true);
  // A late ack of the second attempt (the service is just slow) is no evidence about later calls.
  t.entryOf(ofCall('req-1')[1]!).acked('svc-w1');
  t.reply(ofCall('req-1')[1]!, 'slow');
  assert.deepEqual(await stuck.outcome, { ok: true, value: 'slow' });
  assert.equal(budget.ackedPromptlyAfter(-1), false);
});

test('idempotent: an acked attempt whose probe goes unanswered counts as silent once the other attempt is silent too', async () => {
  const budget = new RetryBudget({ ratio: 0, burst: 0 });
  const { t, call, ofCall } = service(budget, { timeoutMs: 10_000 });
  const held = call();
  t.entryOf(ofCall('req-1')[0]!).acked('svc-w1'); // then the worker freezes
  await t.clock.advance(1);
  const other = call();
  t.entryOf(ofCall('req-2')[0]!).acked('svc-w2');
  t.reply(ofCall('req-2')[0]!, 'ok');
  await other.outcome;
  await t.clock.advance(LOST_WORKER.probeAfterMs + LOST_WORKER.probeTimeoutMs);
  assert.equal(ofCall('req-1').length, 2, 'the unanswered probe sends one more, free');
  t.reply(ofCall('req-1')[1]!, 'elsewhere');
  assert.deepEqual(await held.outcome, { ok: true, value: 'elsewhere' });
});

test('idempotent: silent attempts do not use up maxAttempts: their OVERLOADED refusals (a frozen worker waking up) are retried', async () => {
  const budget = new RetryBudget({ ratio: 0, burst: 10 });
  const { t, call, ofCall } = service(budget, { timeoutMs: 10_000 });
  const stuck = call();
  for (let i = 0; i < DEFAULT_RETRY_POLICY.maxAttempts; i++) {
    await t.clock.advance(1);
    const other = call();
    const req = t.requests().at(-1)!;
    t.entryOf(req).acked('svc-w2');
    t.reply(req, 'ok');
    await other.outcome;
    await t.clock.advance(LOST_WORKER.ackTimeoutMs);
    t.checkAcks();
  }
  const silent = ofCall('req-1');
  assert.equal(silent.length, 1 + DEFAULT_RETRY_POLICY.maxAttempts);
  // The frozen worker wakes up at its concurrency limit and refuses them all.
  for (const req of silent) t.fail(req, 'OVERLOADED', true);
  await t.clock.advance(DEFAULT_RETRY_POLICY.maxBackoffMs);
  const retry = ofCall('req-1')[silent.length]!;
  assert.equal(retry.req!.attempt, silent.length + 1, 'retried');
  t.reply(retry, 'done');
  assert.deepEqual(await stuck.outcome, { ok: true, value: 'done' });
});

test('an OVERLOADED refusal while the service acks later attempts promptly is retried once free of the budget, then only with budget', async () => {
  const budget = new RetryBudget({ ratio: 0, burst: 0 });
  const { t, call, ofCall } = service(budget);
  const refused = call();
  await t.clock.advance(1);
  const other = call();
  t.entryOf(ofCall('req-2')[0]!).acked('svc-w2');
  t.reply(ofCall('req-2')[0]!, 'ok');
  await other.outcome;
  t.fail(ofCall('req-1')[0]!, 'OVERLOADED', true); // one worker full (a frozen one woken up to its backlog)
  await t.clock.advance(DEFAULT_RETRY_POLICY.initialBackoffMs);
  assert.equal(ofCall('req-1').length, 2, 'retried, though the budget is empty');
  t.fail(ofCall('req-1')[1]!, 'OVERLOADED', true);
  const outcome = await refused.outcome;
  assert.equal(outcome.ok, false);
  assert.equal(!outcome.ok && outcome.err.code, 'OVERLOADED', 'the second refusal needs a token: none');
});

test('hedging: a hedge sent while a retry is scheduled supersedes it; the call never sends more than its limits, and leaves no timer behind', async (t) => {
  t.mock.method(Math, 'random', () => 0.5); // the retry's jittered backoff, so it is due after the next hedge
  const { t: ft, call, outcome } = setup({
    idempotent: true,
    timeoutMs: 10_000,
    hedge: resolveHedgePolicy({ delayMs: 40, maxAttempts: 3 }),
    retry: resolveRetryPolicy({ maxAttempts: 3, initialBackoffMs: 1_000 }),
  });
  await ft.clock.advance(40);
  assert.equal(ft.requests().length, 2, 'the first hedge');
  ft.fail(ft.requests()[1]!, 'OVERLOADED', true);
  assert.equal(call.state, 'in-flight', 'a retry is scheduled; the first attempt is still out');
  await ft.clock.advance(40);
  assert.equal(ft.requests().length, 3, 'the second hedge goes while the retry waits, and takes its place');
  await ft.clock.advance(5_000);
  assert.deepEqual(ft.requests().map((r) => r.req!.attempt), [1, 2, 3], 'no attempt beyond hedge.maxAttempts and retry.maxAttempts');
  ft.reply(ft.requests()[0]!, 'first');
  assert.deepEqual(await outcome, { ok: true, value: 'first' });
  assert.equal(ft.clock.pending, 1, "the ended call holds no timer: only the client's deadline queue has one");
});

test('a retry scheduled when the call ends is cleared with it', async (t) => {
  t.mock.method(Math, 'random', () => 0.5);
  const { t: ft, outcome } = setup({ idempotent: true, timeoutMs: 10_000, hedge: resolveHedgePolicy({ delayMs: 40, maxAttempts: 2 }), retry: resolveRetryPolicy({ initialBackoffMs: 1_000 }) });
  await ft.clock.advance(40);
  ft.fail(ft.requests()[1]!, 'OVERLOADED', true);
  ft.reply(ft.requests()[0]!, 'first');
  assert.deepEqual(await outcome, { ok: true, value: 'first' });
  assert.equal(ft.clock.pending, 1, "the pending retry was cleared: only the client's deadline queue has a timer");
  await ft.clock.advance(5_000);
  assert.equal(ft.requests().length, 2);
});

test('a call that ends after a hedge went out beside a scheduled retry leaves no retry timer behind', async (t) => {
  t.mock.method(Math, 'random', () => 0.5);
  const { t: ft, outcome } = setup({ idempotent: true, timeoutMs: 10_000, hedge: resolveHedgePolicy({ delayMs: 40, maxAttempts: 3 }), retry: resolveRetryPolicy({ initialBackoffMs: 1_000 }) });
  await ft.clock.advance(40);
  ft.fail(ft.requests()[1]!, 'OVERLOADED', true);
  await ft.clock.advance(40);
  ft.reply(ft.requests()[2]!, 'third');
  assert.deepEqual(await outcome, { ok: true, value: 'third' });
  assert.equal(ft.clock.pending, 1, "only the client's deadline queue has a timer");
});
