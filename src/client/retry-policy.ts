/**
 * Which failures may be retried and how long to wait before the next attempt. Pure functions:
 * randomness comes in as an argument, so tests can pin it.
 */
import { MAX_ATTEMPT } from '../protocol/envelope.js';
import { codeMeaning, type RpcError } from '../protocol/errors.js';
import type { RetryPolicy } from './call-options.js';

/** A retry is only sent when at least this much of the call's budget would be left for it. */
export const MIN_ATTEMPT_BUDGET_MS = 5;
/** With `waitForWorkers`, backoff between `NO_RESPONDERS` never exceeds this, so a new worker is found fast. */
export const WAIT_FOR_WORKERS_MAX_BACKOFF_MS = 200;

/**
 * Whether the failure `err` of one attempt may be retried at all, by the table in
 * protocol/errors.ts. A code retryable by default (`NO_RESPONDERS`, `OVERLOADED`, `DRAINING`,
 * `UNAVAILABLE`) when nothing was processed; a transient code that may have been processed
 * (`TIMEOUT`, `WORKER_LOST`, `UNAVAILABLE` after sending, a refusal code raised by a handler that
 * had started) only when the call is idempotent. Never business codes, `BAD_REQUEST` and the like.
 */
export function isRetryable(err: RpcError, idempotent: boolean): boolean {
  const m = codeMeaning(err.code);
  if (m.retryable && !err.maybeProcessed) return true;
  return idempotent && m.transient;
}

/** The cap of the backoff before retry number `retry` (1 for the first retry). */
export function backoffCapMs(policy: Readonly<RetryPolicy>, retry: number): number {
  const cap = policy.initialBackoffMs * Math.pow(policy.backoffMultiplier, Math.max(0, retry - 1));
  return Math.min(policy.maxBackoffMs, cap);
}

export interface RetryState {
  /** Attempts sent so far. */
  attempts: number;
  idempotent: boolean;
  /** Retry `NO_RESPONDERS` until the deadline, not counting `maxAttempts` or the budget. */
  waitForWorkers: boolean;
  /** Milliseconds left before the call's deadline. */
  remainingMs: number;
}

export type RetryPlan =
  | { retry: true; delayMs: number; /** true when the retry spends no budget */ free: boolean }
  | { retry: false; reason: 'not-retryable' | 'attempts' | 'deadline' };

/**
 * Decides whether to retry after `err`, and when. Full jitter: the wait is uniform in
 * `[0, cap)`, which spreads the retries of many callers best. A retry that would leave less than
 * {@link MIN_ATTEMPT_BUDGET_MS} of the deadline is not made: retries never extend a call.
 */
export function planRetry(policy: Readonly<RetryPolicy>, err: RpcError, state: RetryState, random: () => number = Math.random): RetryPlan {
  if (!isRetryable(err, state.idempotent)) return { retry: false, reason: 'not-retryable' };
  // Waiting for workers, and sending again what a lost worker took (the load was lost, not added
  // to a sick service; the query-of-death rule bounds losses the request could have caused), are
  // neither limited by maxAttempts nor paid from the budget.
  const waiting = (state.waitForWorkers && err.code === 'NO_RESPONDERS') || err.code === 'WORKER_LOST';
  const maxAttempts = waiting ? MAX_ATTEMPT : policy.maxAttempts;
  if (state.attempts >= maxAttempts) return { retry: false, reason: 'attempts' };
  let cap = backoffCapMs(policy, state.attempts);
  if (waiting) cap = Math.min(cap, WAIT_FOR_WORKERS_MAX_BACKOFF_MS);
  // What a lost worker took goes out again at once: the time it sat there was its backoff.
  const delayMs = err.code === 'WORKER_LOST' ? 0 : Math.floor(random() * cap);
  if (state.remainingMs - delayMs < MIN_ATTEMPT_BUDGET_MS) return { retry: false, reason: 'deadline' };
  return { retry: true, delayMs, free: waiting };
}
