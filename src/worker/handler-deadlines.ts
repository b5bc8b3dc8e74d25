/**
 * The deadlines of a worker's running handlers: at its deadline a handler's signal fires and a
 * grace starts; a handler still running when the grace ends is overdue, and its end counts as an
 * overrun (a worker fault). See docs/protocol.md, *Deadlines*.
 */
import { RpcError } from '../protocol/errors.js';
import { DeadlineQueue } from '../timing/deadline-queue.js';
import { CallContext, PAST_DEADLINE } from './context.js';

/**
 * How long a handler may still run after its deadline fired its signal and count as having
 * stopped promptly. Only a handler still running at deadline + this grace is *overdue*, and its
 * end counts as an overrun (a worker fault): one that ends within it has done its job, however
 * tight its caller's deadline or slow the downstream call it gave up on. See docs/protocol.md,
 * *Deadlines*.
 */
export const OVERRUN_GRACE_MS = 250;

export class HandlerDeadlines {
  readonly #queue = new DeadlineQueue<CallContext>((ctx) => this.#expire(ctx));
  #overdue = 0;

  /** Handlers still running past their deadline and its grace. */
  get overdue(): number {
    return this.#overdue;
  }

  /** A handler starts: its signal fires at `deadline` (a `performance.now()` time). */
  start(ctx: CallContext, deadline: number): void {
    this.#queue.add(ctx, deadline);
  }

  /** A handler ended: true when it was overdue (an overrun). */
  overran(ctx: CallContext): boolean {
    // Still queued: before its deadline, or within the grace after it. Not queued: overdue.
    if (this.#queue.delete(ctx)) return false;
    this.#overdue--;
    return true;
  }

  clear(): void {
    this.#queue.clear();
  }

  /** The deadline fires the handler's signal and queues the grace; the grace's end makes it overdue. */
  #expire(ctx: CallContext): void {
    if (!ctx[PAST_DEADLINE]) {
      ctx[PAST_DEADLINE] = true;
      CallContext.abort(ctx, new RpcError('TIMEOUT', `deadline of ${ctx.method} passed`));
      this.#queue.add(ctx, performance.now() + OVERRUN_GRACE_MS);
      return;
    }
    this.#overdue++;
  }
}
