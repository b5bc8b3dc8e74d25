/**
 * Calls a handler makes through `ctx.call(...)`. The client behind them shares the worker's
 * connection and is made on first use, so a worker whose handlers never call out pays nothing.
 */
import type { NatsConnection } from 'nats';
import type { CallOptions } from '../client/call-options.js';
import { RpcClient, resolveClientOptions } from '../client/client.js';
import type { Headers } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import type { Logger } from '../logging/logger.js';
import type { CallContext, OutboundCaller } from './context.js';

/** Kept back from the remaining budget, so a callee times out before its caller does. */
export const DEFAULT_PROPAGATION_MARGIN_MS = 10;
/** Headers passed on to the calls a handler makes (W3C trace context and baggage). */
export const PROPAGATED_HEADERS = ['traceparent', 'tracestate', 'baggage'] as const;

export class OutboundCalls implements OutboundCaller {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #marginMs: number;
  #client: RpcClient | null = null;

  constructor(nc: NatsConnection, prefix: string, logger: Logger, marginMs = DEFAULT_PROPAGATION_MARGIN_MS) {
    this.#nc = nc;
    this.#prefix = prefix;
    this.#logger = logger;
    this.#marginMs = marginMs;
  }

  call(ctx: CallContext, target: string, payload: unknown, options: CallOptions | undefined): Promise<unknown> {
    const budget = Math.floor(ctx.remainingMs - this.#marginMs);
    if (budget < 1) {
      return Promise.reject(new RpcError('TIMEOUT', `no time left to call ${target} within the deadline of ${ctx.service}.${ctx.method}`, { maybeProcessed: false }));
    }
    const timeoutMs = options?.timeoutMs === undefined ? budget : Math.min(options.timeoutMs, budget);
    let headers: Headers | undefined;
    for (const name of PROPAGATED_HEADERS) {
      const value = ctx.headers[name];
      if (value !== undefined) (headers ??= {})[name] = value;
    }
    if (options?.headers !== undefined) headers = { ...headers, ...options.headers };
    const signal = options?.signal === undefined ? ctx.signal : AbortSignal.any([ctx.signal, options.signal]);
    this.#client ??= new RpcClient(this.#nc, { ...resolveClientOptions({ prefix: this.#prefix, logger: this.#logger }), ownsConnection: false });
    return this.#client.call(target, payload, { ...options, timeoutMs, headers, signal });
  }

  /** Waits for the calls in flight and releases the client's inbox. */
  async close(): Promise<void> {
    await this.#client?.close();
  }
}
