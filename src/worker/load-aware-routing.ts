/**
 * Worker-driven back-pressure. The broker picks a random member of a queue group, so a saturated
 * worker receives as many requests as an idle one. With `leave-when-full` a worker that reaches its
 * concurrency limit leaves the queue group and rejoins once it is back at or below a low-water mark
 * (hysteresis, so it does not flap at the limit); the broker then routes only to workers with room.
 * Requests the broker routed here before it saw the leave still arrive: they wait in a small
 * bounded backlog instead of being refused.
 *
 * The trade-off: when every worker of a service is full, none is in the queue group and callers
 * get `NO_RESPONDERS` from the broker (at once, like `OVERLOADED`, but without costing a worker
 * anything). With `overload-reply` the worker stays in the group and refuses with `OVERLOADED`.
 */
import type { RequestEnvelope } from '../protocol/envelope.js';

import { ROUTING_MODES } from '../options/table.js';

export type RoutingMode = (typeof ROUTING_MODES)[number];

/** The low-water mark when none is given: half the concurrency limit, rounded down. */
export function defaultLowWater(concurrency: number): number {
  return Math.floor(concurrency / 2);
}

/**
 * What a worker in `leave-when-full` mode should do about its queue-group membership: pure, so
 * the hysteresis can be tested without a broker.
 */
export function membershipAction(inGroup: boolean, inFlight: number, concurrency: number, lowWater: number): 'leave' | 'join' | null {
  if (inGroup && inFlight >= concurrency) return 'leave';
  if (!inGroup && inFlight <= lowWater) return 'join';
  return null;
}

/** A request admitted by the broker but not yet started because every slot was taken. */
export interface HeldRequest {
  readonly req: RequestEnvelope;
  readonly method: string;
  readonly reply: string;
  readonly arrivedAt: number;
}

/** What the routing needs from the worker. */
export interface MembershipHooks {
  /** True while the worker's queue-group subscription is live. */
  inGroup(): boolean;
  /** True when the worker may take new requests (serving, not draining or stopping). */
  canJoin(): boolean;
  leave(): void;
  join(): void;
  inFlight(): number;
  /** Starts a held request (the worker checks whether its budget is already spent). */
  start(held: HeldRequest): void;
}

export class LeaveWhenFull {
  readonly #concurrency: number;
  readonly #lowWater: number;
  readonly #maxHeld: number;
  readonly #hooks: MembershipHooks;
  #held: HeldRequest[] = [];
  #head = 0;
  #pumping = false;
  /** Times the worker left the queue group because it was full. */
  leaves = 0;

  constructor(concurrency: number, lowWater: number, hooks: MembershipHooks) {
    this.#concurrency = concurrency;
    this.#lowWater = lowWater;
    // Only requests that raced the leave land here: a few per leave. Beyond this, OVERLOADED.
    this.#maxHeld = Math.max(16, concurrency);
    this.#hooks = hooks;
  }

  get held(): number {
    return this.#held.length - this.#head;
  }

  /** After a handler started. */
  afterStart(): void {
    const h = this.#hooks;
    if (membershipAction(h.inGroup(), h.inFlight(), this.#concurrency, this.#lowWater) === 'leave') {
      this.leaves++;
      h.leave();
    }
  }

  /** Keeps a request that arrived while full; false when the backlog is full too. */
  hold(held: HeldRequest): boolean {
    if (this.held >= this.#maxHeld) return false;
    this.#held.push(held);
    return true;
  }

  /**
   * After a handler finished: starts held requests while there is room, then rejoins the group
   * when below the low-water mark. Call it before sending the reply, so the broker sees the
   * rejoin before the caller can send its next request.
   */
  afterFinish(): void {
    if (this.#pumping) return; // a held request's synchronous handler finished inside the loop below
    const h = this.#hooks;
    this.#pumping = true;
    try {
      while (this.#head < this.#held.length && h.inFlight() < this.#concurrency) {
        const next = this.#held[this.#head]!;
        this.#held[this.#head++] = undefined as unknown as HeldRequest;
        h.start(next);
      }
      if (this.#head === this.#held.length) {
        this.#held.length = 0;
        this.#head = 0;
      }
    } finally {
      this.#pumping = false;
    }
    if (this.held === 0 && h.canJoin() && membershipAction(h.inGroup(), h.inFlight(), this.#concurrency, this.#lowWater) === 'join') {
      h.join();
    }
  }
}
