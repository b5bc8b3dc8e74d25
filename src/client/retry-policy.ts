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
  /** Attempts sent so far that count against `maxAttempts` (attempts that went silent do not). */
  attempts: number;
  /** Attempts sent so far in all (the wire allows at most `MAX_ATTEMPT`); `attempts` when absent. */
  sent?: number;
  idempotent: boolean;
  /** Retry `NO_RESPONDERS` until the deadline, not counting `maxAttempts` or the budget. */
  waitForWorkers: boolean;
  /** Milliseconds left before the call's deadline. */
  remainingMs: number;
  /** The service acknowledged promptly an attempt sent after the one that failed. */
  promptAfter?: boolean;
  /** The call already had its free retry of a refusal. */
  freeRefusalUsed?: boolean;
}

export type RetryPlan =
  | {
      retry: true;
      delayMs: number;
      /** true when the retry spends no budget */
      free: boolean;
      /** true when it is free as the call's one retry of a refusal by one worker */
      refusal?: boolean;
    }
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
  if (state.attempts >= maxAttempts || (state.sent ?? state.attempts) >= MAX_ATTEMPT) return { retry: false, reason: 'attempts' };
  let cap = backoffCapMs(policy, state.attempts);
  if (waiting) cap = Math.min(cap, WAIT_FOR_WORKERS_MAX_BACKOFF_MS);
  // What a lost worker took goes out again at once: the time it sat there was its backoff.
  const delayMs = err.code === 'WORKER_LOST' ? 0 : Math.floor(random() * cap);
  if (state.remainingMs - delayMs < MIN_ATTEMPT_BUDGET_MS) return { retry: false, reason: 'deadline' };
  if (waiting) return { retry: true, delayMs, free: true };
  // A refusal (nothing processed) while the service acknowledges later attempts promptly is one
  // worker's, not a sick service's: a frozen worker waking up to a backlog larger than its
  // concurrency, a draining worker. The call's first such retry is free; further ones spend the
  // budget, and maxAttempts holds. (Under overload of the whole service this is at most one extra
  // refusal per call.)
  if (state.promptAfter === true && state.freeRefusalUsed !== true && codeMeaning(err.code).refusal && !err.maybeProcessed) {
    return { retry: true, delayMs, free: true, refusal: true };
  }
  return { retry: true, delayMs, free: false };
}

/**
 * An idempotent call's attempts may all be *silent*: no ack within `lostWorker.ackTimeoutMs`, or
 * acknowledged by a worker that then left a probe unanswered. Such an attempt may sit with a frozen
 * or killed worker, while the broker goes on routing a share of the requests to it. One more
 * attempt is sent beside them (first answer wins), by these rules (docs/protocol.md, *Acks and
 * lost workers*):
 * - only when every attempt out is silent: at most one attempt that is not yet silent at a time;
 * - free of the retry budget when the service has acknowledged, within the ack timeout, an
 *   attempt sent after the newest silent one (`promptAfter`): the service takes requests, this one
 *   sits with a worker that does not; at most {@link MAX_SILENCE_RESENDS} free ones per call;
 * - otherwise it spends a token of the budget (the caller withdraws it when the plan says
 *   `free: false`), so a service slow as a whole gets at most the budget's extra load;
 * - attempts that went silent do not count against `maxAttempts` (for these resends, nor for the
 *   retries of errors that follow: a frozen worker that wakes up may refuse all it holds with
 *   `OVERLOADED`); the deadline, one not-yet-silent attempt at a time and the budget bound them;
 * - never with less than {@link MIN_ATTEMPT_BUDGET_MS} of the deadline left.
 */
export const MAX_SILENCE_RESENDS = 8;

export interface SilenceState {
  /** Attempts sent so far that count against `maxAttempts` (those that went silent do not). */
  attempts: number;
  /** Attempts sent so far in all. */
  sent: number;
  /** Attempts sent so far because every attempt out was silent. */
  silenceResends: number;
  /** Whether every attempt out is silent. */
  allSilent: boolean;
  /** Whether the service acknowledged promptly an attempt sent after the newest silent one. */
  promptAfter: boolean;
  remainingMs: number;
}

export type SilencePlan = { resend: true; free: boolean } | { resend: false; reason: 'not-silent' | 'attempts' | 'deadline' };

export function planSilenceResend(policy: Readonly<RetryPolicy>, state: SilenceState): SilencePlan {
  if (!state.allSilent) return { resend: false, reason: 'not-silent' };
  if (state.remainingMs < MIN_ATTEMPT_BUDGET_MS) return { resend: false, reason: 'deadline' };
  if (state.sent >= MAX_ATTEMPT) return { resend: false, reason: 'attempts' };
  if (state.promptAfter && state.silenceResends < MAX_SILENCE_RESENDS) return { resend: true, free: true };
  if (state.attempts >= policy.maxAttempts) return { resend: false, reason: 'attempts' };
  return { resend: true, free: false };
}
