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

/**
 * The list's fields on a call. Symbol keys, exported from here only (not from the package): a
 * handler's `ctx` shows no such fields and cannot change them. Declared as class fields of the
 * call, they cost what plain fields cost.
 */
export const ACTIVE_PREV: unique symbol = Symbol('natsrpc.activePrev');
export const ACTIVE_NEXT: unique symbol = Symbol('natsrpc.activeNext');
export const ACTIVE: unique symbol = Symbol('natsrpc.active');

/** A call that can be on the list; the list owns these fields while the call is on it. */
export interface ActiveLink {
  [ACTIVE_PREV]: ActiveLink | null;
  [ACTIVE_NEXT]: ActiveLink | null;
  /** True while the call is on a list. */
  [ACTIVE]: boolean;
}

export class ActiveCalls<T extends ActiveLink> {
  #head: T | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Whether `call` is on a list. */
  has(call: T): boolean {
    return call[ACTIVE];
  }

  add(call: T): void {
    if (call[ACTIVE]) return;
    call[ACTIVE] = true;
    call[ACTIVE_PREV] = null;
    call[ACTIVE_NEXT] = this.#head;
    if (this.#head !== null) this.#head[ACTIVE_PREV] = call;
    this.#head = call;
    this.#size++;
  }

  /** Removes `call`; returns false when it was not on the list. */
  delete(call: T): boolean {
    if (!call[ACTIVE]) return false;
    const prev = call[ACTIVE_PREV];
    const next = call[ACTIVE_NEXT];
    if (prev !== null) prev[ACTIVE_NEXT] = next;
    else this.#head = next as T | null;
    if (next !== null) next[ACTIVE_PREV] = prev;
    call[ACTIVE] = false;
    call[ACTIVE_PREV] = null;
    call[ACTIVE_NEXT] = null;
    this.#size--;
    return true;
  }

  /** The first call on the list that `match` accepts, or undefined; allocates nothing. */
  find(match: (call: T) => boolean): T | undefined {
    for (let c: ActiveLink | null = this.#head; c !== null; c = c[ACTIVE_NEXT]) if (match(c as T)) return c as T;
    return undefined;
  }

  /** The calls on the list now (a copy: callers may remove calls while they go through it). */
  toArray(): T[] {
    const out: T[] = [];
    for (let c: ActiveLink | null = this.#head; c !== null; c = c[ACTIVE_NEXT]) out.push(c as T);
    return out;
  }
}
