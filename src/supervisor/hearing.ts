/**
 * Whether the supervisor may judge workers now. Silence it did not hear because its own
 * connection was down is not the workers' silence: while disconnected, and for a grace period
 * after reconnecting (heartbeats and figures catch up), it declares nobody lost, drains nobody and
 * kicks nobody; afterwards it counts silence only from the moment it could hear again. Pure: the
 * caller passes the time.
 */

/** Supervisor intervals after a reconnect before workers are judged again. */
export const RECONNECT_GRACE_INTERVALS = 3;

export class Hearing {
  readonly #graceMs: number;
  #connected = true;
  #heardSince: number;
  #reconnectedAt = -Infinity;

  /** `since`: when the supervisor started listening. */
  constructor(since: number, graceMs: number) {
    this.#heardSince = since;
    this.#graceMs = graceMs;
  }

  /** Since when the bus has been heard without a break: nobody has been silent for longer. */
  get heardSince(): number {
    return this.#heardSince;
  }

  get connected(): boolean {
    return this.#connected;
  }

  disconnected(): void {
    this.#connected = false;
  }

  reconnected(now: number): void {
    this.#connected = true;
    this.#heardSince = now;
    this.#reconnectedAt = now;
  }

  /** Whether workers may be judged (marked lost, drained, kicked) at `now`. */
  judging(now: number): boolean {
    return this.#connected && now - this.#reconnectedAt >= this.#graceMs;
  }
}
