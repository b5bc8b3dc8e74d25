/**
 * Whether this process's event loop has just come back from a stop: a handler that blocked it, or
 * the whole process frozen (SIGSTOP, a paused VM). Only then can a message have sat unread in a
 * socket for long, so only then is it worth comparing a sender's clock with ours.
 *
 * A timer ticks every {@link LOOP_TICK_MS}. Two ways to see a stop: a message read long after the
 * last tick (after a freeze, libuv reads the waiting sockets before it runs timers), and a tick that
 * comes late (the stop is over; the backlog it left may take several reads to work through, so
 * the window stays open for {@link STALL_WINDOW_MS} after it).
 */

export const LOOP_TICK_MS = 100;
/** A loop that ran no timer for this long was stopped, not merely busy with a batch of messages. */
export const STALLED_LOOP_MS = 1_000;
/** After a stop ends, messages are treated as possibly stale for this long. */
export const STALL_WINDOW_MS = 5_000;

export interface LoopProgressTiming {
  tickMs: number;
  stalledMs: number;
  windowMs: number;
}

const DEFAULT_TIMING: LoopProgressTiming = { tickMs: LOOP_TICK_MS, stalledMs: STALLED_LOOP_MS, windowMs: STALL_WINDOW_MS };

export class LoopProgress {
  #lastTickAt = performance.now();
  #staleUntil = 0;
  readonly #timing: LoopProgressTiming;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(timing: LoopProgressTiming = DEFAULT_TIMING) {
    this.#timing = timing;
    this.#timer = setInterval(this.#tick, timing.tickMs);
    this.#timer.unref();
  }

  /** True when a message read at `now` (a `performance.now()` time) may have waited through a stop. */
  stalled(now: number): boolean {
    return now - this.#lastTickAt > this.#timing.stalledMs || now < this.#staleUntil;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  readonly #tick = (): void => {
    const now = performance.now();
    if (now - this.#lastTickAt > this.#timing.stalledMs) this.#staleUntil = now + this.#timing.windowMs;
    this.#lastTickAt = now;
  };
}
