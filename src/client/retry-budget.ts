/**
 * Retry throttling in the spirit of gRPC's: every call earns `ratio` of a token, every retry or
 * hedge spends a whole one, so retries add at most `ratio` extra load (plus a small `burst`, so a
 * client with little traffic can still retry). When a service is broken, its callers' retries
 * stop at that share instead of multiplying the load on it.
 */
import type { RetryBudgetOptions } from './call-options.js';

export class RetryBudget {
  readonly #ratio: number;
  readonly #cap: number;
  #balance: number;
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
