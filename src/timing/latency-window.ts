/**
 * Latencies of the most recent calls in a fixed ring, for the p50/p99 that heartbeats and stats
 * report. Recording is one store into a preallocated array; percentiles are computed on demand.
 */
export const DEFAULT_WINDOW_SIZE = 1_024;

export class LatencyWindow {
  readonly #values: Float64Array;
  #next = 0;
  #count = 0;

  constructor(size = DEFAULT_WINDOW_SIZE) {
    this.#values = new Float64Array(size);
  }

  record(ms: number): void {
    this.#values[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#values.length;
    if (this.#count < this.#values.length) this.#count++;
  }

  /** The `q` quantile (0..1) of the window in ms, or 0 when empty. */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const sorted = this.#values.slice(0, this.#count).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  }

  /** Forgets everything recorded so far. */
  reset(): void {
    this.#next = 0;
    this.#count = 0;
  }
}
