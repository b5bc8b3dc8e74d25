/**
 * The hedging delay: fixed, or the observed 95th percentile of a method's successful attempts.
 * Winning attempts are what is recorded, so a slow worker's latency does not drag the delay up.
 */
import { LatencyWindow } from '../worker/latency-window.js';
import type { HedgePolicy } from './call-options.js';

/** Latencies recorded before the observed p95 is trusted. */
export const MIN_P95_SAMPLES = 20;
const WINDOW = 256;
/** Sorting the window on every call would cost more than the call; recompute every so often. */
const RECOMPUTE_EVERY = 16;

export class LatencyTracker {
  readonly #window = new LatencyWindow(WINDOW);
  #count = 0;
  #p95 = 0;

  record(ms: number): void {
    this.#window.record(ms);
    this.#count++;
    if (this.#count % RECOMPUTE_EVERY === 0 || this.#count === MIN_P95_SAMPLES) this.#p95 = this.#window.quantile(0.95);
  }

  /** The observed p95 in ms, or undefined before {@link MIN_P95_SAMPLES} latencies. */
  p95(): number | undefined {
    return this.#count >= MIN_P95_SAMPLES ? this.#p95 : undefined;
  }
}

/** Milliseconds to wait for a reply before sending a hedge. */
export function hedgeDelayMs(policy: Readonly<Required<HedgePolicy>>, tracker: LatencyTracker): number {
  if (policy.delayMs !== 'p95') return policy.delayMs;
  const p95 = tracker.p95();
  return Math.max(1, Math.ceil(p95 ?? policy.fallbackDelayMs));
}
