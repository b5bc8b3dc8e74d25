/**
 * Time and timers behind one small interface, so that what schedules work (the client's call
 * engine, deadline queues) can be driven by a fake clock in tests.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock (`performance.now()` for the system clock). */
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  /** Clears a timer of this clock; `undefined` or `null` is ignored. */
  clearTimer(timer: unknown): void;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (timer) => {
    if (timer != null) clearTimeout(timer as ReturnType<typeof setTimeout>);
  },
};
