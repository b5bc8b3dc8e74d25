/**
 * One timer for many deadlines.
 *
 * A timer per call costs an allocation and a timer-list insertion and removal on every call. Here
 * deadlines are grouped into buckets of `resolutionMs` (rounded up, so nothing expires early);
 * adding and removing an item are a Set insert and delete, and a small heap of bucket times keeps
 * a single timer armed for the earliest bucket.
 */

export const DEFAULT_RESOLUTION_MS = 5;

/** Something with a deadline; the queue owns `deadlineBucket` while the item is queued. */
export interface Expiring {
  deadlineBucket: number;
}

export class DeadlineQueue<T extends Expiring> {
  readonly #buckets = new Map<number, Set<T>>();
  readonly #heap: number[] = [];
  readonly #resolutionMs: number;
  readonly #onExpire: (item: T) => void;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #armedFor = Infinity;
  #size = 0;

  constructor(onExpire: (item: T) => void, resolutionMs = DEFAULT_RESOLUTION_MS) {
    this.#onExpire = onExpire;
    this.#resolutionMs = resolutionMs;
  }

  /** Number of queued items. */
  get size(): number {
    return this.#size;
  }

  /** Queues `item` to expire at `expiresAt` (a `performance.now()` time). */
  add(item: T, expiresAt: number): void {
    const res = this.#resolutionMs;
    const key = Math.ceil(expiresAt / res) * res;
    item.deadlineBucket = key;
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = new Set();
      this.#buckets.set(key, bucket);
      heapPush(this.#heap, key);
      if (key < this.#armedFor) this.#arm(key);
    }
    bucket.add(item);
    this.#size++;
  }

  /** Removes `item`; returns false when it was not queued (already expired or removed). */
  delete(item: T): boolean {
    const bucket = this.#buckets.get(item.deadlineBucket);
    if (bucket === undefined || !bucket.delete(item)) return false;
    this.#size--;
    return true;
  }

  /** Stops the timer and forgets every item without expiring them. */
  clear(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#armedFor = Infinity;
    this.#buckets.clear();
    this.#heap.length = 0;
    this.#size = 0;
  }

  #arm(key: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#armedFor = key;
    this.#timer = setTimeout(this.#fire, Math.max(0, key - performance.now()));
    this.#timer.unref?.();
  }

  readonly #fire = (): void => {
    this.#timer = null;
    this.#armedFor = Infinity;
    const now = performance.now();
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]! <= now) {
      const key = heapPop(heap);
      const bucket = this.#buckets.get(key);
      if (bucket === undefined) continue;
      this.#buckets.delete(key);
      this.#size -= bucket.size;
      for (const item of bucket) this.#onExpire(item);
    }
    // Buckets emptied by delete() stay in the heap until their time; dropping them here keeps
    // the timer from waking for nothing.
    while (heap.length > 0 && (this.#buckets.get(heap[0]!)?.size ?? 0) === 0) {
      this.#buckets.delete(heapPop(heap));
    }
    if (heap.length > 0) this.#arm(heap[0]!);
  };
}

function heapPush(heap: number[], value: number): void {
  let i = heap.push(value) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
}

function heapPop(heap: number[]): number {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    let i = 0;
    const n = heap.length;
    while (true) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]! < heap[l]! ? r : l;
      if (heap[c]! >= last) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
  }
  return top;
}
