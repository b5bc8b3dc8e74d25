/**
 * When a call sends one more attempt: a retry after a failure (the policy's backoff, the retry
 * budget, the one free retry of a refusal, the query-of-death rule), a hedge after its delay, or a
 * resend beside attempts that all went silent. It owns what those decisions remember: the pending
 * retry and hedge timers, the free refusal used, the worker losses, the silent attempts. A call
 * makes it the first time it needs one of them (call-engine.ts): a call answered at its first
 * attempt allocates nothing for it.
 */
import { RpcError } from '../protocol/errors.js';
import type { Attempt } from './attempt.js';
import type { CallAttempts } from './call-attempts.js';
import type { CallSpec } from './client-options.js';
import { hedgeDelayMs } from './hedging.js';
import { MIN_ATTEMPT_BUDGET_MS, planRetry } from './retry-policy.js';
import { SilentAttempts } from './silent-attempts.js';
import type { CallTransport } from './transport.js';

/** After this many worker losses during one request, it is presumed to be what kills them. */
export const QUERY_OF_DEATH_LOSSES = 2;

/** What the resends read of their call (implemented by `Call`). */
export interface ResendingCall {
  /** `'done'` once the call has ended. */
  readonly state: string;
}

/** {@link Resends.retry}: a retry is scheduled. */
export const RETRY_SCHEDULED = 'retry-scheduled';

export class Resends {
  readonly #t: CallTransport;
  readonly #s: CallSpec;
  readonly #call: ResendingCall;
  /** The call's attempts (the call adds and ends them). */
  readonly #attempts: CallAttempts;
  readonly #deadline: number;
  readonly #send: () => void;
  /** The one pending retry: set by {@link retry}, cleared when it fires, is superseded ({@link sending}) or the call ends ({@link cancel}). */
  #retryTimer: unknown = undefined;
  #hedgeTimer: unknown = undefined;
  /** The call had its free retry of a refusal by one worker (retry-policy.ts, `planRetry`). */
  #freeRefusalUsed = false;
  #losses = 0;
  /** Its silent attempts, from the first one found (idempotent calls only). */
  #silence: SilentAttempts | undefined = undefined;

  /** `send` sends the next attempt at once. */
  constructor(t: CallTransport, spec: CallSpec, call: ResendingCall, attempts: CallAttempts, deadline: number, send: () => void) {
    this.#t = t;
    this.#s = spec;
    this.#call = call;
    this.#attempts = attempts;
    this.#deadline = deadline;
    this.#send = send;
  }

  /** A retry is scheduled and not yet sent. */
  get retryPending(): boolean {
    return this.#retryTimer !== undefined;
  }

  /** Worker losses that held the request (acknowledged attempts). */
  get losses(): number {
    return this.#losses;
  }

  /**
   * The call sends an attempt now. A retry still scheduled is superseded by it (a hedge, a silence
   * resend or a resend after a reconnect went first): its timer is cleared, so the call never has
   * more than the one pending retry, and never sends it beside the attempt that took its place.
   */
  sending(): void {
    this.#clearRetry();
  }

  /** An attempt acknowledged by `workerId` was lost with it (a query of death after {@link QUERY_OF_DEATH_LOSSES}). */
  lostWithWorker(): void {
    this.#losses++;
  }

  /** `attempt` failed silent: it does not count against `retry.maxAttempts`. */
  silent(attempt: Attempt): void {
    (this.#silence ??= new SilentAttempts()).mark(attempt);
  }

  /**
   * After a failure the call may retry: schedules a retry by the policy (`planRetry`), paid from
   * the budget unless free. Returns {@link RETRY_SCHEDULED}, the error to end the call with (no
   * attempt is out), or null when the call waits (a retry is pending, or attempts are still out).
   * `sentAt`: when the attempt that failed was sent, when one did.
   */
  retry(err: RpcError, sentAt: number | undefined, waitForWorkers: boolean): RpcError | typeof RETRY_SCHEDULED | null {
    if (this.#retryTimer !== undefined) return null;
    const idle = this.#attempts.count === 0;
    if (this.#losses >= QUERY_OF_DEATH_LOSSES) {
      if (!idle) return null;
      return new RpcError('QUERY_OF_DEATH', `the request was being served by ${this.#losses} workers that were lost; it is not sent again`, {
        maybeProcessed: true,
        cause: err,
      });
    }
    const s = this.#s;
    const sent = this.#attempts.sent;
    const plan = planRetry(s.retry, err, {
      attempts: sent - (this.#silence?.count ?? 0),
      sent,
      idempotent: s.idempotent,
      waitForWorkers,
      remainingMs: this.#remaining(),
      promptAfter: sentAt !== undefined && s.target.budget.ackedPromptlyAfter(sentAt),
      freeRefusalUsed: this.#freeRefusalUsed,
    });
    if (plan.retry && (plan.free || s.target.budget.tryWithdraw())) {
      if (plan.refusal === true) this.#freeRefusalUsed = true;
      this.#retryTimer = this.#t.clock.setTimer(() => this.#onRetry(), plan.delayMs);
      return RETRY_SCHEDULED;
    }
    return idle ? err : null;
  }

  /** After an attempt of a hedged call went out: the next hedge goes after the hedge delay, within `hedge.maxAttempts`. */
  armHedge(): void {
    const hedge = this.#s.hedge!;
    if (this.#hedgeTimer !== undefined || this.#attempts.sent >= hedge.maxAttempts) return;
    this.#hedgeTimer = this.#t.clock.setTimer(() => this.#onHedge(), hedgeDelayMs(hedge, this.#s.target.latency));
  }

  /**
   * One more attempt beside those out when all of them are silent (no ack within the ack timeout,
   * or a probe unanswered), by the rules of `planSilenceResend`: free while the service acks
   * later attempts promptly, else within the attempts and the budget. True when it went.
   */
  sendAnother(): boolean {
    if (this.#retryTimer !== undefined) return false;
    const s = this.#s;
    const silence = (this.#silence ??= new SilentAttempts());
    const plan = silence.plan(this.#attempts.out, this.#t.clock.now(), s.lostWorker.ackTimeoutMs, s.retry, s.target.budget, this.#attempts.sent, this.#remaining());
    if (!plan.resend || (!plan.free && !s.target.budget.tryWithdraw())) return false;
    if (plan.free) silence.resentFree();
    this.#send();
    return true;
  }

  /** The call ended: nothing more is sent. */
  cancel(): void {
    this.#clearRetry();
    if (this.#hedgeTimer === undefined) return;
    this.#t.clock.clearTimer(this.#hedgeTimer);
    this.#hedgeTimer = undefined;
  }

  #remaining(): number {
    return this.#deadline - this.#t.clock.now();
  }

  /** The pending retry, if any, will not be sent. */
  #clearRetry(): void {
    if (this.#retryTimer === undefined) return;
    this.#t.clock.clearTimer(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** The scheduled retry is due: it is no longer pending, and goes out. */
  #onRetry(): void {
    this.#retryTimer = undefined;
    this.#send();
  }

  #onHedge(): void {
    this.#hedgeTimer = undefined;
    if (this.#call.state === 'done' || this.#attempts.count === 0 || this.#attempts.sent >= this.#s.hedge!.maxAttempts) return;
    if (this.#remaining() < MIN_ATTEMPT_BUDGET_MS || !this.#s.target.budget.tryWithdraw()) return;
    this.#send();
  }
}
