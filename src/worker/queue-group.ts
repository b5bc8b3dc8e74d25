/**
 * A worker's membership of its service's queue group, through which the broker routes requests.
 * A leave unsubscribes with `drain()`, not `unsubscribe()`: requests the broker routed here before
 * it saw the UNSUB still arrive and are served (cheaper for their callers than a DRAINING and a
 * retry).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Msg, NatsConnection, Subscription } from 'nats';

export class QueueGroupMembership {
  readonly #nc: NatsConnection;
  readonly #subject: string;
  readonly #queue: string;
  readonly #callback: (err: Error | null, msg: Msg) => void;
  #sub: Subscription | null = null;
  /** A leave (because the worker was full) still waiting for the broker's confirmation. */
  #leaving: Promise<void> | null = null;

  constructor(nc: NatsConnection, subject: string, queue: string, callback: (err: Error | null, msg: Msg) => void) {
    this.#nc = nc;
    this.#subject = subject;
    this.#queue = queue;
    this.#callback = callback;
  }

  /** In the group now: new requests may be routed here. */
  get joined(): boolean {
    return this.#sub !== null;
  }

  join(): void {
    this.#sub = this.#nc.subscribe(this.#subject, { queue: this.#queue, callback: this.#callback });
  }

  /** Leaves the group; the broker confirms later (see {@link leaveConfirmed}). */
  leave(): void {
    const sub = this.#sub;
    if (sub === null) return;
    this.#sub = null;
    const left: Promise<void> = sub.drain().catch(() => undefined).then(() => {
      if (this.#leaving === left) this.#leaving = null;
    });
    this.#leaving = left;
  }

  /**
   * Leaves the group and waits for the broker to confirm, this leave and one still confirming, for
   * at most `timeoutMs`: while disconnected the confirmation cannot come, and must not hold a drain
   * forever.
   */
  async leaveConfirmed(timeoutMs: number): Promise<void> {
    const sub = this.#sub;
    this.#sub = null;
    const left = this.#leaving;
    if ((sub !== null || left !== null) && !this.#nc.isClosed()) {
      const confirmed = Promise.all([sub?.drain().catch(() => undefined), left]);
      await Promise.race([confirmed, delay(timeoutMs, undefined, { ref: false })]);
    }
  }
}
