/**
 * What a handler knows about the call it serves. The abort signal and the request logger are
 * made on first use only, so a handler that needs neither costs neither.
 */
import type { Headers } from '../protocol/envelope.js';
import type { Logger } from '../logging/logger.js';
import { DEADLINE_BUCKET, DEADLINE_NEXT, DEADLINE_PREV, type Expiring } from '../timing/deadline-queue.js';
import { ACTIVE, ACTIVE_NEXT, ACTIVE_PREV, type ActiveLink } from './active-calls.js';
import type { CallOptions } from '../client/call-options.js';

/** How a context makes calls of its own; the worker supplies it (see outbound.ts). */
export interface OutboundCaller {
  call(ctx: CallContext, target: string, payload: unknown, options: CallOptions | undefined): Promise<unknown>;
}

const NO_HEADERS: Headers = Object.freeze({}) as Headers;

/**
 * The worker's own fields on a call, with symbol keys exported from here only (not from the
 * package), like the deadline queue's and the running list's: a handler's `ctx` shows none of
 * them and cannot change them, and as class fields they cost what plain fields cost.
 */
/** `performance.now()` when the request arrived. */
export const STARTED_AT: unique symbol = Symbol('natsrpc.startedAt');
/** The worker indexed the call by request id for cancellation. */
export const TRACKED: unique symbol = Symbol('natsrpc.tracked');
/** The deadline fired: the call is in its overrun grace, or overdue once that ends. */
export const PAST_DEADLINE: unique symbol = Symbol('natsrpc.pastDeadline');
/** The request's reply subject: a cancel must name its last (random) token. */
export const REPLY: unique symbol = Symbol('natsrpc.reply');
/** Where the reply goes once the caller moved a long call ('' : the request's own reply subject). */
export const REPLY_TO: unique symbol = Symbol('natsrpc.replyTo');
/** The request asked for an ack (`ack` or `lateAck`): its caller reads acks, so it may be probed with one. */
export const ASKS_ACK: unique symbol = Symbol('natsrpc.asksAck');

/**
 * What a handler gets as `ctx`: the call it serves, and the means to stop in time, log, and call
 * other services within the call's deadline.
 */
export interface HandlerContext {
  /** Request id, the same across the caller's attempts. */
  readonly requestId: string;
  readonly service: string;
  readonly method: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The caller's headers (trace context, baggage, your own). */
  readonly headers: Headers;
  /** Wall-clock deadline of the call (ms since epoch), by this host's clock. */
  readonly deadline: number;
  /** Fires when the deadline passes, the caller cancels, or the worker gives up on the call. */
  readonly signal: AbortSignal;
  /** True once the call has been aborted (deadline, cancellation or drain). */
  readonly aborted: boolean;
  /** Why the call was aborted (an RpcError: TIMEOUT, CANCELLED or DRAINING), if it was. */
  readonly abortReason: unknown;
  /** Milliseconds left before the deadline (negative once it has passed). */
  readonly remainingMs: number;
  /** A logger bound to this request (`reqId`, `method`). */
  readonly log: Logger;
  /**
   * Calls another service on behalf of this call: within what is left of its deadline, with its
   * trace headers, cancelled when this call is.
   */
  call<R = unknown>(target: string, payload?: unknown, options?: CallOptions): Promise<R>;
}

/**
 * The worker's record of a call it runs: the {@link HandlerContext} handlers see, plus the links
 * and flags the worker's deadline queue and list of running calls keep on it (so a call costs one
 * object). Those are symbol-keyed: handlers neither see them (in types, `Object.keys`, JSON or
 * `console.log`) nor can reach them by name.
 */
export class CallContext implements HandlerContext, Expiring, ActiveLink {
  // Owned by the worker's deadline queue (deadline-queue.ts).
  [DEADLINE_BUCKET] = 0;
  [DEADLINE_PREV]: Expiring | null = null;
  [DEADLINE_NEXT]: Expiring | null = null;
  // Owned by the worker's list of running calls (active-calls.ts).
  [ACTIVE_PREV]: ActiveLink | null = null;
  [ACTIVE_NEXT]: ActiveLink | null = null;
  [ACTIVE] = false;
  // Owned by the worker (worker.ts).
  readonly [STARTED_AT]: number;
  [TRACKED] = false;
  [REPLY] = '';
  [REPLY_TO] = '';
  [ASKS_ACK] = false;
  [PAST_DEADLINE] = false;
  // What handlers see: documented on HandlerContext.
  readonly requestId: string;
  readonly service: string;
  readonly method: string;
  readonly attempt: number;
  readonly headers: Headers;
  readonly deadline: number;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #log: Logger | undefined;
  readonly #baseLog: Logger;
  readonly #outbound: OutboundCaller | undefined;

  /** @internal created by the worker */
  constructor(
    requestId: string,
    service: string,
    method: string,
    attempt: number,
    headers: Headers | undefined,
    budgetMs: number,
    startedAt: number,
    baseLog: Logger,
    outbound?: OutboundCaller,
  ) {
    this.requestId = requestId;
    this.service = service;
    this.method = method;
    this.attempt = attempt;
    this.headers = headers ?? NO_HEADERS;
    this.deadline = Date.now() + budgetMs;
    this[STARTED_AT] = startedAt;
    this.#baseLog = baseLog;
    this.#outbound = outbound;
  }

  /**
   * Calls another service on behalf of this call: its timeout is what is left of this call's
   * budget less a small margin (never more), trace headers (`traceparent`, `tracestate`,
   * `baggage`) are passed on, and it is cancelled when this call is.
   *
   * @example
   * ```ts
   * handler: async ({ sku }, ctx) => {
   *   const price = await ctx.call<number>('pricing.quote', { sku });
   *   return { sku, price };
   * }
   * ```
   */
  call<R = unknown>(target: string, payload?: unknown, options?: CallOptions): Promise<R> {
    if (this.#outbound === undefined) return Promise.reject(new Error('ctx.call is only available inside a worker'));
    return this.#outbound.call(this, target, payload, options) as Promise<R>;
  }

  /** Fires when the deadline passes, the caller cancels, or the worker gives up on the call. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** True once the call has been aborted (deadline, cancellation or drain). */
  get aborted(): boolean {
    return this.#abortReason !== undefined;
  }

  /** Why the call was aborted (an RpcError: TIMEOUT, CANCELLED or DRAINING), if it was. */
  get abortReason(): unknown {
    return this.#abortReason;
  }

  /** Milliseconds left before the deadline (negative once it has passed). */
  get remainingMs(): number {
    return this.deadline - Date.now();
  }

  /** A logger bound to this request (`reqId`, `method`). */
  get log(): Logger {
    this.#log ??= this.#baseLog.child({ reqId: this.requestId, method: this.method });
    return this.#log;
  }

  /** What `console.log(ctx)` and `util.inspect` show: what a handler can read, nothing of the worker's. */
  [Symbol.for('nodejs.util.inspect.custom')](): object {
    const { requestId, service, method, attempt, headers, deadline, aborted } = this;
    return { requestId, service, method, attempt, headers, deadline, aborted };
  }

  /** @internal aborts the call's signal with `reason`; later calls do nothing. */
  static abort(ctx: CallContext, reason: unknown): void {
    if (ctx.#abortReason !== undefined) return;
    ctx.#abortReason = reason;
    ctx.#controller?.abort(reason);
  }
}
