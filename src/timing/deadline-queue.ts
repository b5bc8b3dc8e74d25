/**
 * One timer for many deadlines.
 *
 * A timer per call costs an allocation and a timer-list insertion and removal on every call. Here
 * deadlines are grouped into buckets of `resolutionMs` (rounded up, so nothing expires early), and a
 * small heap of bucket times keeps a single timer armed for the earliest bucket. Each bucket is an
 * intrusive doubly linked list through fields of the items themselves: adding and removing an item
 * sets a few fields and allocates nothing. (Buckets were `Set`s, which live as long as the
 * deadline and take an add and a delete per call; bench scenario 6 measured them at several µs of
 * CPU per call, most of it in garbage collection.)
 */

import { SYSTEM_CLOCK, type Clock } from './clock.js';

export const DEFAULT_RESOLUTION_MS = 5;

/**
 * The queue's fields on an item. Symbol keys, exported from here only (not from the package): an
 * item that is also public (a handler's `ctx`) shows no such fields and its users cannot change
 * them. Declared as class fields of the item, they cost what plain fields cost.
 */
export const DEADLINE_BUCKET: unique symbol = Symbol('natsrpc.deadlineBucket');
export const DEADLINE_PREV: unique symbol = Symbol('natsrpc.deadlinePrev');
export const DEADLINE_NEXT: unique symbol = Symbol('natsrpc.deadlineNext');

/** Something with a deadline; the queue owns these fields while the item is queued. */
export interface Expiring {
  /** The bucket the item is queued in, 0 when it is not queued. */
  [DEADLINE_BUCKET]: number;
  [DEADLINE_PREV]: Expiring | null;
  [DEADLINE_NEXT]: Expiring | null;
}

interface Bucket {
  head: Expiring | null;
}

export class DeadlineQueue<T extends Expiring> {
  readonly #buckets = new Map<number, Bucket>();
  readonly #heap: number[] = [];
  readonly #resolutionMs: number;
  readonly #onExpire: (item: T) => void;
  readonly #clock: Clock;
  #timer: unknown = null;
  #armedFor = Infinity;
  #size = 0;

  constructor(onExpire: (item: T) => void, resolutionMs = DEFAULT_RESOLUTION_MS, clock: Clock = SYSTEM_CLOCK) {
    this.#onExpire = onExpire;
    this.#resolutionMs = resolutionMs;
    this.#clock = clock;
  }

  /** Number of queued items. */
  get size(): number {
    return this.#size;
  }

  /** Queues `item` to expire at `expiresAt` (a time of the queue's clock); an item already queued is moved. */
  add(item: T, expiresAt: number): void {
    if (item[DEADLINE_BUCKET] !== 0) this.delete(item);
    const res = this.#resolutionMs;
    // Bucket keys are never 0, which marks an item that is not queued.
    const key = Math.max(res, Math.ceil(expiresAt / res) * res);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { head: null };
      this.#buckets.set(key, bucket);
      heapPush(this.#heap, key);
      if (key < this.#armedFor) this.#arm(key);
    }
    item[DEADLINE_BUCKET] = key;
    item[DEADLINE_PREV] = null;
    item[DEADLINE_NEXT] = bucket.head;
    if (bucket.head !== null) bucket.head[DEADLINE_PREV] = item;
    bucket.head = item;
    this.#size++;
  }

  /** Removes `item`; returns false when it was not queued (already expired or removed). */
  delete(item: T): boolean {
    const key = item[DEADLINE_BUCKET];
    if (key === 0) return false;
    const bucket = this.#buckets.get(key);
    if (bucket !== undefined) this.#unlink(bucket, item);
    return bucket !== undefined;
  }

  /** Stops the timer and forgets every item without expiring them. */
  clear(): void {
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
    this.#armedFor = Infinity;
    for (const bucket of this.#buckets.values()) while (bucket.head !== null) this.#unlink(bucket, bucket.head);
    this.#buckets.clear();
    this.#heap.length = 0;
    this.#size = 0;
  }

  #unlink(bucket: Bucket, item: Expiring): void {
    const prev = item[DEADLINE_PREV];
    const next = item[DEADLINE_NEXT];
    if (prev !== null) prev[DEADLINE_NEXT] = next;
    else bucket.head = next;
    if (next !== null) next[DEADLINE_PREV] = prev;
    item[DEADLINE_BUCKET] = 0;
    item[DEADLINE_PREV] = null;
    item[DEADLINE_NEXT] = null;
    this.#size--;
  }

  #arm(key: number): void {
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#armedFor = key;
    this.#timer = this.#clock.setTimer(this.#fire, Math.max(0, key - this.#clock.now()));
    // The queue alone never keeps the process alive.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  readonly #fire = (): void => {
    this.#timer = null;
    this.#armedFor = Infinity;
    const now = this.#clock.now();
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]! <= now) {
      const key = heapPop(heap);
      const bucket = this.#buckets.get(key);
      if (bucket === undefined) continue;
      // The bucket stays in the map while it empties, so an item removed by another's expiry
      // (from inside onExpire) is unlinked like any other.
      while (bucket.head !== null) {
        const item = bucket.head;
        this.#unlink(bucket, item);
        this.#onExpire(item as T);
      }
      this.#buckets.delete(key);
    }
    // Buckets emptied by delete() stay in the heap until their time; dropping them here keeps
    // the timer from waking for nothing.
    while (heap.length > 0 && (this.#buckets.get(heap[0]!)?.head ?? null) === null) {
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
