/**
 * Retry throttling in the spirit of gRPC's: every call earns `ratio` of a token, every retry or
 * hedge spends a whole one, so retries add at most `ratio` extra load (plus a small `burst`, so a
 * client with little traffic can still retry). When a service is broken, its callers' retries
 * stop at that share instead of multiplying the load on it. The budget also remembers whether the
 * service acknowledges requests promptly, which makes the resend of a silent attempt free (see
 * retry-policy.ts, `planSilenceResend`).
 */
import type { RetryBudgetOptions } from './call-options.js';

export class RetryBudget {
  readonly #ratio: number;
  readonly #cap: number;
  #balance: number;
  /** The send time of the latest attempt of the service acknowledged within the ack timeout. */
  #promptSentAt = -Infinity;
  /** Retries and hedges allowed, and refused, so far. */
  spent = 0;
  refused = 0;

  constructor(options: RetryBudgetOptions) {
    this.#ratio = options.ratio;
    this.#cap = Math.max(1, options.burst);
    this.#balance = options.burst;
  }

  get balance(): number {
    return this.#balance;
  }

  /** One call was made. */
  deposit(): void {
    const next = this.#balance + this.#ratio;
    this.#balance = next < this.#cap ? next : this.#cap;
  }

  /**
   * An attempt sent at `sentAt` (clock time) was acknowledged within the ack timeout: the service
   * takes requests promptly.
   */
  ackedPromptly(sentAt: number): void {
    if (sentAt > this.#promptSentAt) this.#promptSentAt = sentAt;
  }

  /**
   * Whether an attempt sent after `sentAt` has been acknowledged within the ack timeout: then an
   * attempt sent at `sentAt` and still silent sits with one worker that does not read its requests
   * (frozen, dead, blocked), not in a service that is slow as a whole.
   */
  ackedPromptlyAfter(sentAt: number): boolean {
    return this.#promptSentAt > sentAt;
  }

  /** Spends a token for a retry or a hedge; false when the budget is exhausted. */
  tryWithdraw(): boolean {
    if (this.#balance >= 1) {
      this.#balance -= 1;
      this.spent++;
      return true;
    }
    this.refused++;
    return false;
  }
}
