/**
 * The request helper. Every call is a publish with a reply subject under one wildcard inbox
 * subscription per client, tracked in a map of pending calls with one shared deadline timer. This
 * is the fastest pattern the `nats` package allows, and it lets the client turn every way a call
 * can end into an {@link RpcError}.
 */
import { randomBytes } from 'node:crypto';
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';
import { decodeReply, encodeRequest, errorFromWire } from '../protocol/codec.js';
import { MAX_BUDGET_MS, PROTOCOL_VERSION, type Headers } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import { DEFAULT_MSGPACK_LIMITS, type MsgpackLimits } from '../protocol/msgpack-guard.js';
import { assertPrefix, DEFAULT_PREFIX } from '../protocol/subjects.js';
import { openConnection, type ConnectionOptions } from '../connection/options.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { DeadlineQueue } from '../timing/deadline-queue.js';
import { DeadlinePolicyCache } from './deadline-policy.js';
import { PendingCall } from './pending-call.js';
import { parseTarget, type Target } from './target.js';

export const DEFAULT_TIMEOUT_MS = 5_000;

export interface ClientOptions extends ConnectionOptions {
  /** Timeout of a call that names none, in milliseconds. Default 5,000. */
  timeoutMs?: number;
  /** Subject prefix. Default `rpc`. */
  prefix?: string;
  logger?: Logger;
  /** Decoding limits for replies. */
  limits?: MsgpackLimits;
  /** Use this connection instead of opening one; `close()` then leaves it open. */
  connection?: NatsConnection;
  /** Follow the supervisor's per-service deadline policy (clamp to its maximum, use its default). Default true. */
  deadlinePolicy?: boolean;
}

export interface CallOptions {
  /** Time budget of this call in milliseconds; the worker sees what is left of it. */
  timeoutMs?: number;
  /** Aborting it rejects the call at once with `CANCELLED`. */
  signal?: AbortSignal;
  /** String headers carried to the handler (trace context, caller identity...). */
  headers?: Headers;
}

/** The client-side shape of a worker definition: each method becomes an async function. */
export type ApiOf<D extends { methods: Record<string, (payload: any, ctx: any) => unknown> }> = {
  [K in keyof D['methods']]: (
    payload: Parameters<D['methods'][K]>[0],
    options?: CallOptions,
  ) => Promise<Awaited<ReturnType<D['methods'][K]>>>;
};

function checkTimeout(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_BUDGET_MS) {
    throw new TypeError(`${name} must be an integer from 1 to ${MAX_BUDGET_MS}, received ${String(value)}`);
  }
  return value;
}

/**
 * Connects to NATS and returns a client.
 *
 * @example
 * ```ts
 * const client = await connect({ servers: 'nats://127.0.0.1:4222' });
 * const sum = await client.call<number>('math.add', { a: 1, b: 2 });
 * await client.close();
 * ```
 */
export async function connect(options: ClientOptions = {}): Promise<RpcClient> {
  const timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  assertPrefix(prefix);
  const nc = options.connection ?? (await openConnection({ name: 'natsrpc-client', ...options }));
  return new RpcClient(nc, {
    timeoutMs,
    prefix,
    logger: options.logger ?? createLogger('natsrpc-client'),
    limits: options.limits ?? DEFAULT_MSGPACK_LIMITS,
    ownsConnection: options.connection === undefined,
    deadlinePolicy: options.deadlinePolicy ?? true,
  });
}

interface ResolvedClientOptions {
  timeoutMs: number;
  prefix: string;
  logger: Logger;
  limits: MsgpackLimits;
  ownsConnection: boolean;
  deadlinePolicy: boolean;
}

export class RpcClient {
  readonly #nc: NatsConnection;
  readonly #opts: ResolvedClientOptions;
  readonly #inbox: string;
  readonly #inboxPrefixLength: number;
  readonly #sub: Subscription;
  readonly #pending = new Map<number, PendingCall>();
  readonly #deadlines: DeadlineQueue<PendingCall>;
  readonly #targets = new Map<string, Target>();
  readonly #idPrefix = randomBytes(9).toString('base64url') + '.';
  readonly #policy: DeadlinePolicyCache | null;
  #seq = 0;
  #connected = true;
  #closing: Promise<void> | null = null;
  #lateReplies = 0;

  /** @internal use {@link connect} */
  constructor(nc: NatsConnection, opts: ResolvedClientOptions) {
    this.#nc = nc;
    this.#opts = opts;
    // The connection's own inbox prefix is honoured, so broker permissions can confine replies.
    this.#inbox = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix) + '.';
    this.#inboxPrefixLength = this.#inbox.length;
    this.#deadlines = new DeadlineQueue<PendingCall>(this.#expire);
    this.#sub = nc.subscribe(this.#inbox + '*', { callback: this.#onReply });
    this.#policy = opts.deadlinePolicy ? new DeadlinePolicyCache(nc, opts.prefix) : null;
    void this.#watchStatus();
    void nc.closed().then(() => this.#failAll('UNAVAILABLE', 'connection to NATS closed'));
  }

  /** The underlying NATS connection. */
  get connection(): NatsConnection {
    return this.#nc;
  }

  /** Replies that arrived after their call had already ended (timed out or cancelled). */
  get lateReplies(): number {
    return this.#lateReplies;
  }

  /**
   * Calls `target` (`'service.method'`) and resolves with the handler's result, or rejects with
   * an {@link RpcError}.
   */
  call<R = unknown>(target: string, payload?: unknown, options?: CallOptions): Promise<R> {
    let t = this.#targets.get(target);
    let timeoutMs = this.#opts.timeoutMs;
    try {
      if (t === undefined) {
        t = parseTarget(this.#opts.prefix, target);
        if (this.#targets.size < 4_096) this.#targets.set(target, t);
      }
      if (options?.timeoutMs !== undefined) timeoutMs = checkTimeout('timeoutMs', options.timeoutMs);
      if (this.#policy !== null) timeoutMs = this.#policy.timeoutFor(t.service, options?.timeoutMs, timeoutMs);
    } catch (cause) {
      return Promise.reject(new RpcError('BAD_REQUEST', (cause as Error).message, { cause }));
    }
    const signal = options?.signal;
    if (this.#closing !== null) return Promise.reject(new RpcError('UNAVAILABLE', 'client is closed'));
    if (!this.#connected || this.#nc.isClosed()) {
      return Promise.reject(new RpcError('UNAVAILABLE', 'not connected to NATS (reconnecting)'));
    }
    if (signal?.aborted) return Promise.reject(new RpcError('CANCELLED', 'call aborted before it was sent', { cause: signal.reason }));

    const seq = ++this.#seq;
    const id = this.#idPrefix + seq.toString(36);
    let data: Uint8Array;
    try {
      data = encodeRequest({
        v: PROTOCOL_VERSION,
        id,
        method: t.method,
        budgetMs: timeoutMs,
        attempt: 1,
        sentAt: Date.now(),
        headers: options?.headers,
        payload: payload ?? null,
      });
    } catch (cause) {
      return Promise.reject(new RpcError('BAD_REQUEST', `payload cannot be encoded: ${(cause as Error).message}`, { cause }));
    }

    const call = new PendingCall(seq, id, target, timeoutMs);
    try {
      this.#nc.publish(t.subject, data, { reply: this.#inbox + seq });
    } catch (cause) {
      return Promise.reject(publishError(cause, data.length));
    }
    this.#pending.set(seq, call);
    this.#deadlines.add(call, performance.now() + timeoutMs);
    if (signal !== undefined) {
      call.signal = signal;
      call.onAbort = () => this.#settle(call, new RpcError('CANCELLED', 'call aborted by the caller', { cause: signal.reason, maybeProcessed: true }));
      signal.addEventListener('abort', call.onAbort, { once: true });
    }
    return call.promise as Promise<R>;
  }

  /**
   * A typed proxy for one service: each property is a method.
   *
   * @example
   * ```ts
   * import math from './workers/math.js';
   * const m = client.service<ApiOf<typeof math>>('math');
   * const sum: number = await m.add({ a: 1, b: 2 });
   * ```
   */
  service<Api extends object>(service: string): Api {
    parseTarget(this.#opts.prefix, `${service}.x`); // validates the name up front
    const methods = new Map<string, (payload?: unknown, options?: CallOptions) => Promise<unknown>>();
    return new Proxy({} as Api, {
      get: (_obj, prop) => {
        if (typeof prop !== 'string' || prop === 'then') return undefined;
        let fn = methods.get(prop);
        if (fn === undefined) {
          const target = `${service}.${prop}`;
          parseTarget(this.#opts.prefix, target);
          fn = (payload, options) => this.call(target, payload, options);
          methods.set(prop, fn);
        }
        return fn;
      },
    });
  }

  /**
   * Stops taking calls, waits for the calls in flight to end (each is bounded by its deadline),
   * then closes the connection if the client opened it. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const inFlight = [...this.#pending.values()].map((c) => c.promise.catch(() => undefined));
    await Promise.all(inFlight);
    this.#deadlines.clear();
    this.#policy?.close();
    if (this.#opts.ownsConnection) {
      if (!this.#nc.isClosed()) await this.#nc.close();
    } else {
      this.#sub.unsubscribe();
    }
  }

  readonly #onReply = (err: Error | null, msg: Msg): void => {
    if (err !== null) {
      this.#opts.logger.warn({ err }, 'reply subscription error');
      return;
    }
    const seq = Number(msg.subject.slice(this.#inboxPrefixLength));
    const call = this.#pending.get(seq);
    if (call === undefined) {
      this.#lateReplies++;
      return;
    }
    const hdrs = msg.headers;
    if (hdrs !== undefined && hdrs.code === 503) {
      this.#settle(call, new RpcError('NO_RESPONDERS', `no worker serves ${call.target}`));
      return;
    }
    let reply;
    try {
      reply = decodeReply(msg.data, this.#opts.limits);
    } catch (cause) {
      this.#settle(call, new RpcError('INTERNAL', `invalid reply for ${call.target}: ${(cause as Error).message}`, { cause, maybeProcessed: true }));
      return;
    }
    if (reply.id !== call.id) {
      this.#lateReplies++;
      return;
    }
    if (reply.ok) this.#settle(call, undefined, reply.result);
    else this.#settle(call, errorFromWire(reply.error));
  };

  readonly #expire = (call: PendingCall): void => {
    if (this.#pending.get(call.seq) !== call) return;
    this.#pending.delete(call.seq);
    call.release();
    call.reject(new RpcError('TIMEOUT', `${call.target} did not reply within ${call.timeoutMs} ms`));
  };

  #settle(call: PendingCall, err: RpcError | undefined, result?: unknown): void {
    if (!this.#pending.delete(call.seq)) return;
    this.#deadlines.delete(call);
    call.release();
    if (err === undefined) call.resolve(result);
    else call.reject(err);
  }

  #failAll(code: 'UNAVAILABLE', message: string): void {
    for (const call of [...this.#pending.values()]) {
      this.#settle(call, new RpcError(code, message, { maybeProcessed: true }));
    }
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === 'disconnect') {
        this.#connected = false;
        // The broker dropped the connection: no reply can reach the calls in flight any more.
        this.#failAll('UNAVAILABLE', 'connection to NATS lost; the request may have been processed');
      } else if (s.type === 'reconnect') {
        this.#connected = true;
      }
    }
  }
}

function publishError(cause: unknown, size: number): RpcError {
  const code = (cause as { code?: string }).code;
  if (code === 'MAX_PAYLOAD_EXCEEDED') {
    return new RpcError('PAYLOAD_TOO_LARGE', `request of ${size} bytes exceeds the broker's max_payload`, { cause });
  }
  return new RpcError('UNAVAILABLE', `cannot publish: ${(cause as Error).message}`, { cause });
}
