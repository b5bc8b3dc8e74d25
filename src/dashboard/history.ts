/**
 * A fixed-size history of samples (oldest first when read), for the dashboard's small charts.
 * Bounded: it never holds more than `capacity` numbers.
 */
export class History {
  readonly #values: Float64Array;
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#values = new Float64Array(capacity);
  }

  push(value: number): void {
    this.#values[this.#next] = Number.isFinite(value) ? value : 0;
    this.#next = (this.#next + 1) % this.#values.length;
    if (this.#size < this.#values.length) this.#size++;
  }

  /** The samples, oldest first, rounded to 3 significant decimals for a compact JSON. */
  toArray(): number[] {
    const out = new Array<number>(this.#size);
    const start = (this.#next - this.#size + this.#values.length) % this.#values.length;
    for (let i = 0; i < this.#size; i++) out[i] = round(this.#values[(start + i) % this.#values.length]!);
    return out;
  }
}

/** Rounds for display: 2 decimals below 100, whole numbers above. */
export function round(n: number): number {
  return Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100;
}
