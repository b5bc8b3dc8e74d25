/**
 * Answering status requests at a bounded cost: the encoded reply is built at most once per
 * {@link STATUS_CACHE_MS} and shared by every request in between, and at most
 * {@link MAX_STATUS_REPLIES_PER_SEC} replies go out per second (a burst of as many), the rest get
 * none (the requester times out as if no supervisor led). A flood of status requests then costs
 * the supervisor a few replies a second, not a reply each. Pure: the caller passes the time.
 */

/** A status reply is rebuilt at most this often, in ms. */
export const STATUS_CACHE_MS = 250;
/** Status replies sent per second at most (and in one burst). */
export const MAX_STATUS_REPLIES_PER_SEC = 50;

export class StatusReplies {
  #bytes: Uint8Array | null = null;
  #builtAt = -Infinity;
  #tokens = MAX_STATUS_REPLIES_PER_SEC;
  #refilledAt = -Infinity;
  /** Requests left unanswered for the rate limit, for logs and tests. */
  #dropped = 0;
  get dropped(): number {
    return this.#dropped;
  }

  /** The reply to send at `now` (built with `build` when the cached one is too old), or null to send none. */
  take(now: number, build: () => Uint8Array): Uint8Array | null {
    const elapsed = now - this.#refilledAt;
    this.#tokens = Math.min(MAX_STATUS_REPLIES_PER_SEC, this.#tokens + (Number.isFinite(elapsed) ? (elapsed * MAX_STATUS_REPLIES_PER_SEC) / 1_000 : MAX_STATUS_REPLIES_PER_SEC));
    this.#refilledAt = now;
    if (this.#tokens < 1) {
      this.#dropped++;
      return null;
    }
    this.#tokens -= 1;
    if (this.#bytes === null || now - this.#builtAt >= STATUS_CACHE_MS) {
      this.#bytes = build();
      this.#builtAt = now;
    }
    return this.#bytes;
  }
}
