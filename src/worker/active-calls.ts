/**
 * The calls a worker is running: their number, for the concurrency limit and the drain, and the
 * calls themselves, for the drain that aborts whatever still runs at its deadline.
 *
 * An intrusive doubly linked list: adding and removing a call sets a few fields of the call and
 * allocates nothing. A `Set` did the same job at a measured cost: with one long-lived set taking an
 * add and a delete per request, worker CPU per call rose from 49 to 90 µs with 10 KB payloads
 * (bench scenario 6, `npm run bench -- --only 6 --cells 64x10240`), most of it in garbage
 * collection.
 */

/** A call that can be on the list; the list owns these fields while the call is on it. */
export interface ActiveLink {
  activePrev: ActiveLink | null;
  activeNext: ActiveLink | null;
  /** True while the call is on a list. */
  active: boolean;
}

export class ActiveCalls<T extends ActiveLink> {
  #head: T | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(call: T): void {
    if (call.active) return;
    call.active = true;
    call.activePrev = null;
    call.activeNext = this.#head;
    if (this.#head !== null) this.#head.activePrev = call;
    this.#head = call;
    this.#size++;
  }

  /** Removes `call`; returns false when it was not on the list. */
  delete(call: T): boolean {
    if (!call.active) return false;
    const { activePrev: prev, activeNext: next } = call;
    if (prev !== null) prev.activeNext = next;
    else this.#head = next as T | null;
    if (next !== null) next.activePrev = prev;
    call.active = false;
    call.activePrev = null;
    call.activeNext = null;
    this.#size--;
    return true;
  }

  /** The first call on the list that `match` accepts, or undefined; allocates nothing. */
  find(match: (call: T) => boolean): T | undefined {
    for (let c: ActiveLink | null = this.#head; c !== null; c = c.activeNext) if (match(c as T)) return c as T;
    return undefined;
  }

  /** The calls on the list now (a copy: callers may remove calls while they go through it). */
  toArray(): T[] {
    const out: T[] = [];
    for (let c: ActiveLink | null = this.#head; c !== null; c = c.activeNext) out.push(c as T);
    return out;
  }
}
