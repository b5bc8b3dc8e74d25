/**
 * An idempotent call's silent attempts (docs/protocol.md, *Silent attempts*): neither acknowledged
 * nor answered within the ack timeout, or acknowledged and then a probe of their worker went
 * unanswered. They do not count against `retry.maxAttempts`, and while every attempt out is silent
 * the call may send one more (retry-policy.ts, `planSilenceResend`). A call makes this record at
 * its first silent attempt: one that never has any allocates nothing for it.
 */
import type { RetryPolicy } from './call-options.js';
import type { Attempt } from './attempt.js';
import type { RetryBudget } from './retry-budget.js';
import { planSilenceResend, type SilencePlan } from './retry-policy.js';

/** Neither acknowledged nor answered within the ack timeout, or acknowledged and then a probe unanswered. */
export function isSilent(a: Attempt, now: number, ackTimeoutMs: number): boolean {
  return a.workerId === undefined ? now - a.sentAt >= ackTimeoutMs : a.probeUnanswered;
}

export class SilentAttempts {
  /** Attempts found silent. */
  #count = 0;
  /** Attempts sent, free, because every attempt out was silent. */
  #freeResends = 0;

  /** Attempts found silent: they do not count against `retry.maxAttempts`. */
  get count(): number {
    return this.#count;
  }

  /** Counts `a` among the silent attempts (once). */
  mark(a: Attempt): void {
    if (a.countSilent()) this.#count++;
  }

  /**
   * Whether to send one more attempt beside those `live` (counting the silent ones among them):
   * only when all of them are silent, free while the service acks later attempts promptly, else
   * within the attempts and the budget (the caller withdraws the token).
   */
  plan(live: readonly Attempt[], now: number, ackTimeoutMs: number, retry: Readonly<RetryPolicy>, budget: RetryBudget, sent: number, remainingMs: number): SilencePlan {
    let allSilent = true;
    let newest = -Infinity;
    for (const a of live) {
      if (isSilent(a, now, ackTimeoutMs)) this.mark(a);
      else allSilent = false;
      if (a.sentAt > newest) newest = a.sentAt;
    }
    return planSilenceResend(retry, {
      attempts: sent - this.#count,
      sent,
      silenceResends: this.#freeResends,
      allSilent,
      promptAfter: budget.ackedPromptlyAfter(newest),
      remainingMs,
    });
  }

  /** A free resend (see {@link plan}) was sent. */
  resentFree(): void {
    this.#freeResends++;
  }
}
