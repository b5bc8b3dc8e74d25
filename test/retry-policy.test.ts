/**
 * The pure parts of the client's resilience: which failures are retried, backoff with full jitter
 * inside the deadline, the retry budget and the hedging delay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RpcError } from '../src/index.js';
import { resolveHedgePolicy, resolveRetryPolicy, DEFAULT_RETRY_POLICY } from '../src/client/call-options.js';
import { backoffCapMs, isRetryable, MAX_SILENCE_RESENDS, MIN_ATTEMPT_BUDGET_MS, planRetry, planSilenceResend, WAIT_FOR_WORKERS_MAX_BACKOFF_MS } from '../src/client/retry-policy.js';
import { RetryBudget } from '../src/client/retry-budget.js';
import { hedgeDelayMs, LatencyTracker, MIN_P95_SAMPLES } from '../src/client/hedging.js';

const err = (code: string, maybeProcessed?: boolean) => new RpcError(code, 'x', { maybeProcessed });
const state = { attempts: 1, idempotent: false, waitForWorkers: false, remainingMs: 5_000 };

test('only safe codes are retried; TIMEOUT and maybe-processed UNAVAILABLE only when idempotent', () => {
  for (const code of ['NO_RESPONDERS', 'OVERLOADED', 'DRAINING']) assert.equal(isRetryable(err(code), false), true, code);
  assert.equal(isRetryable(err('UNAVAILABLE', false), false), true);
  assert.equal(isRetryable(err('UNAVAILABLE', true), false), false);
  assert.equal(isRetryable(err('UNAVAILABLE', true), true), true);
  assert.equal(isRetryable(err('TIMEOUT'), false), false);
  assert.equal(isRetryable(err('TIMEOUT'), true), true);
  // A worker lost under the request: sent again only when the call is idempotent.
  assert.equal(isRetryable(err('WORKER_LOST'), false), false);
  assert.equal(isRetryable(err('WORKER_LOST'), true), true);
  // A refusal code a handler raised after it started: maybe processed.
  assert.equal(isRetryable(err('OVERLOADED', true), false), false);
  assert.equal(isRetryable(err('OVERLOADED', true), true), true);
  for (const code of ['BAD_REQUEST', 'METHOD_NOT_FOUND', 'INTERNAL', 'CANCELLED', 'QUERY_OF_DEATH', 'PAYLOAD_TOO_LARGE', 'INSUFFICIENT_FUNDS']) {
    assert.equal(isRetryable(err(code), true), false, code);
  }
});

test('backoff: exponential cap, full jitter, never past the deadline or maxAttempts', () => {
  const p = DEFAULT_RETRY_POLICY;
  assert.equal(backoffCapMs(p, 1), 20);
  assert.equal(backoffCapMs(p, 2), 40);
  assert.equal(backoffCapMs(p, 20), 1_000);
  assert.deepEqual(planRetry(p, err('OVERLOADED'), state, () => 0.5), { retry: true, delayMs: 10, free: false });
  assert.deepEqual(planRetry(p, err('OVERLOADED'), state, () => 0), { retry: true, delayMs: 0, free: false });
  assert.deepEqual(planRetry(p, err('OVERLOADED'), { ...state, attempts: 3 }), { retry: false, reason: 'attempts' });
  assert.deepEqual(planRetry(p, err('OVERLOADED'), { ...state, remainingMs: 12 }, () => 0.5), { retry: false, reason: 'deadline' });
  assert.deepEqual(planRetry(p, err('BAD_REQUEST'), state), { retry: false, reason: 'not-retryable' });
  // waitForWorkers: NO_RESPONDERS past maxAttempts, capped backoff, no budget.
  const w = planRetry(p, err('NO_RESPONDERS'), { ...state, attempts: 50, waitForWorkers: true }, () => 0.999);
  assert.ok(w.retry && w.free && w.delayMs < WAIT_FOR_WORKERS_MAX_BACKOFF_MS);
  assert.throws(() => resolveRetryPolicy({ maxAttempts: 0 }), /retry.maxAttempts must be an integer from 1/);
  assert.equal(resolveRetryPolicy(false).maxAttempts, 1);
  assert.throws(() => resolveHedgePolicy({ delayMs: -1 }), /hedge.delayMs/);
});

test('retry budget: retries stay within ratio x calls + burst', () => {
  const budget = new RetryBudget({ ratio: 0.1, burst: 10 });
  let retries = 0;
  for (let i = 0; i < 1_000; i++) {
    budget.deposit();
    for (let r = 0; r < 2; r++) if (budget.tryWithdraw()) retries++;
  }
  assert.ok(retries <= 1_000 * 0.1 + 10 && retries >= 1_000 * 0.1, `${retries} retries`);
  assert.equal(budget.spent, retries);
  // A healthy period saves up no more than the burst.
  const saver = new RetryBudget({ ratio: 0.1, burst: 10 });
  for (let i = 0; i < 10_000; i++) saver.deposit();
  assert.equal(saver.balance, 10);
});

test('silent attempts: free while the service acks later attempts promptly (capped), else a budgeted retry within maxAttempts', () => {
  const silent = { attempts: 1, sent: 1, silenceResends: 0, allSilent: true, promptAfter: true, remainingMs: 3_000 };
  assert.deepEqual(planSilenceResend(DEFAULT_RETRY_POLICY, silent), { resend: true, free: true });
  // One attempt that is not yet silent at a time.
  assert.deepEqual(planSilenceResend(DEFAULT_RETRY_POLICY, { ...silent, allSilent: false }), { resend: false, reason: 'not-silent' });
  // Free ones go beyond maxAttempts, up to the cap.
  const max = DEFAULT_RETRY_POLICY.maxAttempts;
  assert.deepEqual(planSilenceResend(DEFAULT_RETRY_POLICY, { ...silent, attempts: 1, sent: MAX_SILENCE_RESENDS, silenceResends: MAX_SILENCE_RESENDS - 1 }), { resend: true, free: true });
  // Past the cap, a resend is a budgeted retry within maxAttempts (free ones are not counted).
  const capped = { ...silent, sent: 1 + MAX_SILENCE_RESENDS, silenceResends: MAX_SILENCE_RESENDS };
  assert.deepEqual(planSilenceResend(DEFAULT_RETRY_POLICY, capped), { resend: true, free: false });
  assert.deepEqual(planSilenceResend(DEFAULT_RETRY_POLICY, { ...capped, attempts: max }), { resend: false, reason: 'attempts' });
  // No prompt acks (the service is slow as a whole): a retry like any other, paid and within maxAttempts.
  const slow = { ...silent, promptAfter: false };
  assert.deepEqual(planSilenceResend(DEFAULT_RETRY_POLICY, slow), { resend: true, free: false });
  assert.deepEqual(planSilenceResend(DEFAULT_RETRY_POLICY, { ...slow, attempts: max, sent: max }), { resend: false, reason: 'attempts' });
  // Never at the deadline.
  assert.deepEqual(planSilenceResend(DEFAULT_RETRY_POLICY, { ...silent, remainingMs: MIN_ATTEMPT_BUDGET_MS - 1 }), { resend: false, reason: 'deadline' });
});

test('a refusal while the service acks later attempts promptly is retried once per call free of the budget', () => {
  const overloaded = err('OVERLOADED');
  assert.deepEqual(planRetry(DEFAULT_RETRY_POLICY, overloaded, { ...state, promptAfter: true }, () => 0), { retry: true, delayMs: 0, free: true, refusal: true });
  assert.deepEqual(planRetry(DEFAULT_RETRY_POLICY, overloaded, { ...state, promptAfter: true, freeRefusalUsed: true }, () => 0), { retry: true, delayMs: 0, free: false });
  assert.deepEqual(planRetry(DEFAULT_RETRY_POLICY, overloaded, { ...state, promptAfter: false }, () => 0), { retry: true, delayMs: 0, free: false });
  // Not for what may have been processed, nor beyond maxAttempts.
  assert.deepEqual(planRetry(DEFAULT_RETRY_POLICY, err('OVERLOADED', true), { ...state, idempotent: true, promptAfter: true }, () => 0), { retry: true, delayMs: 0, free: false });
  assert.deepEqual(planRetry(DEFAULT_RETRY_POLICY, overloaded, { ...state, attempts: 3, promptAfter: true }, () => 0), { retry: false, reason: 'attempts' });
});

test('retry budget: prompt acks are remembered by the send time of their attempt', () => {
  const b = new RetryBudget({ ratio: 0.1, burst: 10 });
  assert.equal(b.ackedPromptlyAfter(0), false);
  b.ackedPromptly(100);
  b.ackedPromptly(50); // an older one does not move it back
  assert.equal(b.ackedPromptlyAfter(99), true);
  assert.equal(b.ackedPromptlyAfter(100), false, 'an attempt is no evidence about itself');
});

test('hedging delay: fixed, or the observed p95 once enough samples are in', () => {
  const fixed = resolveHedgePolicy({ delayMs: 40 })!;
  const tracker = new LatencyTracker();
  assert.equal(hedgeDelayMs(fixed, tracker), 40);
  const p95 = resolveHedgePolicy({ delayMs: 'p95', fallbackDelayMs: 70 })!;
  assert.equal(hedgeDelayMs(p95, tracker), 70);
  for (let i = 0; i < MIN_P95_SAMPLES * 8; i++) tracker.record(i % 10 === 9 ? 100 : 10); // 10% slow
  assert.equal(hedgeDelayMs(p95, tracker), 100);
  for (let i = 0; i < 256; i++) tracker.record(10);
  assert.equal(hedgeDelayMs(p95, tracker), 10);
});
