/**
 * The request helper. Every call is a publish with a reply subject under one wildcard inbox
 * subscription per client, tracked in a map of pending calls with one shared deadline timer. This
 * is the fastest pattern the `nats` package allows, and it lets the client turn every way a call
 * can end into an {@link RpcError}.
 */
import { randomBytes } from 'node:crypto';
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';
import { decodeReply, encodeRequest, errorFromWire } from '../protocol/codec.js';
import { isUnattributedError, PROTOCOL_VERSION } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import { openConnection } from '../connection/options.js';
import { DeadlineQueue } from '../timing/deadline-queue.js';
import { clientTracing, type ClientTracing } from '../tracing/call-tracing.js';
import { runCall, type CallSpec } from './attempts.js';
import type { CallOptions } from './call-options.js';
import { callSpec, checkTimeout, needsOrchestration, resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './client-options.js';
import { serviceProxy, type ApiOf, type ContractLike } from './contract-proxy.js';
import { LatencyTracker } from './hedging.js';
import { LivenessProber } from './liveness.js';
import { DeadlinePolicyCache } from './deadline-policy.js';
import { PendingCall } from './pending-call.js';
import { RetryBudget } from './retry-budget.js';
import { isRetryable } from './retry-policy.js';
import { parseTarget } from './target.js';
import type { CallTransport, InboxEntry, ResolvedTarget } from './transport.js';

export type { CallOptions } from './call-options.js';
export type { ApiOf } from './contract-proxy.js';
export { DEFAULT_TIMEOUT_MS, resolveClientOptions } from './client-options.js';
export type { ClientOptions, ResolvedClientOptions } from './client-options.js';

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
  const resolved = resolveClientOptions(options);
  const nc = options.connection ?? (await openConnection({ name: 'natsrpc-client', ...options }));
  return new RpcClient(nc, { ...resolved, ownsConnection: options.connection === undefined });
}

export class RpcClient {
  readonly #nc: NatsConnection;
  readonly #opts: ResolvedClientOptions;
  readonly #inbox: string;
  readonly #inboxPrefixLength: number;
  readonly #sub: Subscription;
  readonly #pending = new Map<number, PendingCall | InboxEntry>();
  readonly #deadlines: DeadlineQueue<PendingCall>;
  readonly #targets = new Map<string, ResolvedTarget>();
  readonly #budgets = new Map<string, RetryBudget>();
  readonly #transport: CallTransport;
  readonly #prober: LivenessProber;
  /** Calls go to attempts.ts at once (instead of the fast path) when a client default asks for it. */
  readonly #orchestrateAll: boolean;
  #connectWaiters: (() => void)[] = [];
  readonly #running = new Set<Promise<unknown>>();
  readonly #idPrefix = randomBytes(9).toString('base64url') + '.';
  readonly #policy: DeadlinePolicyCache | null;
  #seq = 0;
  #connected = true;
  #closing: Promise<void> | null = null;
  #lateReplies = 0;
  /** Spans around calls, or null when no OpenTelemetry SDK was registered when the client was made. */
  readonly #tracing: ClientTracing | null = clientTracing();

  /** @internal use {@link connect} */
  constructor(nc: NatsConnection, opts: ResolvedClientOptions) {
    this.#nc = nc;
    this.#opts = opts;
    // The connection's own inbox prefix is honoured, so broker permissions can confine replies.
    this.#inbox = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix) + '.';
    this.#inboxPrefixLength = this.#inbox.length;
    this.#deadlines = new DeadlineQueue<PendingCall>(this.#expire);
    this.#orchestrateAll = opts.waitForWorkers || opts.waitForConnection;
    this.#transport = this.#makeTransport();
    this.#prober = new LivenessProber(this.#transport);
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
    if (this.#tracing !== null) return this.#tracing.traced(target, options, (traced) => this.#call<R>(target, payload, traced));
    return this.#call<R>(target, payload, options);
  }

  #call<R>(target: string, payload: unknown, options: CallOptions | undefined): Promise<R> {
    let t = this.#targets.get(target);
    let timeoutMs = this.#opts.timeoutMs;
    let spec: CallSpec | undefined;
    try {
      if (t === undefined) {
        t = this.#resolveTarget(target);
        if (this.#targets.size < 4_096) this.#targets.set(target, t);
      }
      if (options?.timeoutMs !== undefined) timeoutMs = checkTimeout('timeoutMs', options.timeoutMs);
      // The supervisor's per-service policy: its default when the call names none, clamped to its maximum.
      if (this.#policy !== null) timeoutMs = this.#policy.timeoutFor(t.service, options?.timeoutMs, timeoutMs);
      if (options !== undefined && needsOrchestration(options)) spec = callSpec(this.#opts, t, payload, options, timeoutMs);
      if (spec === undefined && this.#orchestrateAll) spec = callSpec(this.#opts, t, payload, options ?? {}, timeoutMs);
    } catch (cause) {
      return Promise.reject(new RpcError('BAD_REQUEST', (cause as Error).message, { cause }));
    }
    if (this.#closing !== null) return Promise.reject(new RpcError('UNAVAILABLE', 'client is closed'));
    if (spec !== undefined) return this.#track(runCall(this.#transport, this.#prober, spec, this.#nextId())) as Promise<R>;
    if (!this.#connected || this.#nc.isClosed()) {
      return Promise.reject(new RpcError('UNAVAILABLE', 'not connected to NATS (reconnecting)'));
    }

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

    const call = new PendingCall(seq, id, t, timeoutMs, payload, options?.headers);
    try {
      this.#nc.publish(t.subject, data, { reply: this.#inbox + seq });
    } catch (cause) {
      return Promise.reject(publishError(cause, data.length));
    }
    t.budget.deposit();
    this.#pending.set(seq, call);
    this.#deadlines.add(call, call.startedAt + timeoutMs);
    return call.promise as Promise<R>;
  }

  /** Retry budget of a service, shared by its targets (for tests and metrics). */
  retryBudget(service: string): RetryBudget | undefined {
    return this.#budgets.get(service);
  }

  /** Liveness probes sent so far. */
  get probesSent(): number {
    return this.#prober.sent;
  }

  /** Keeps orchestrated calls in view so that close() can wait for them. */
  #track(p: Promise<unknown>): Promise<unknown> {
    this.#running.add(p);
    const done = () => void this.#running.delete(p);
    p.then(done, done);
    return p;
  }

  #nextId(): string {
    return this.#idPrefix + (++this.#seq).toString(36);
  }

  #resolveTarget(target: string): ResolvedTarget {
    const parsed = parseTarget(this.#opts.prefix, target);
    let budget = this.#budgets.get(parsed.service);
    if (budget === undefined) {
      budget = new RetryBudget(this.#opts.budget);
      if (this.#budgets.size < 4_096) this.#budgets.set(parsed.service, budget);
    }
    return { ...parsed, budget, latency: new LatencyTracker() };
  }

  #makeTransport(): CallTransport {
    const nc = this.#nc;
    return {
      prefix: this.#opts.prefix,
      limits: this.#opts.limits,
      logger: this.#opts.logger,
      isConnected: () => this.#connected && !nc.isClosed() && this.#closing === null,
      whenConnected: (timeoutMs) => this.#whenConnected(timeoutMs),
      open: (entry) => {
        const seq = ++this.#seq;
        this.#pending.set(seq, entry);
        return seq;
      },
      replySubject: (seq) => this.#inbox + seq,
      close: (seq) => void this.#pending.delete(seq),
      publish: (subject, data, reply) => nc.publish(subject, data, reply === undefined ? undefined : { reply }),
    };
  }

  #whenConnected(timeoutMs: number): Promise<boolean> {
    // A closing client is never "connected" for a call: answering true here would send it straight
    // back to a send that refuses it, a loop of microtasks.
    if (this.#nc.isClosed() || this.#closing !== null) return Promise.resolve(false);
    if (this.#connected) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve(this.#connected && this.#closing === null);
      };
      const timer = setTimeout(() => {
        this.#connectWaiters = this.#connectWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.#connectWaiters.push(waiter);
    });
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
  service<Api extends object>(service: string): Api;
  /**
   * A typed proxy built from a worker definition (or any `{ service, methods }` contract): methods
   * marked `idempotent` are called as such, and with `validate: true` inputs and outputs are
   * checked against the methods' Standard Schema validators on this side too.
   */
  service<D extends ContractLike>(definition: D, options?: { validate?: boolean }): ApiOf<D>;
  service(service: string | ContractLike, options?: { validate?: boolean }): object {
    const name = typeof service === 'string' ? service : service?.service;
    parseTarget(this.#opts.prefix, `${name}.x`); // validates the name up front
    const contract = typeof service === 'string' ? undefined : service;
    return serviceProxy(name, contract, options?.validate === true, (target, payload, opts) => {
      parseTarget(this.#opts.prefix, target);
      return this.call(target, payload, opts);
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
    // Calls waiting for the connection give up now (UNAVAILABLE) rather than hold close() until their deadlines.
    for (const w of this.#connectWaiters.splice(0)) w();
    const inFlight = [...this.#pending.values()].flatMap((c) => (c instanceof PendingCall ? [c.promise.catch(() => undefined)] : []));
    for (const p of this.#running) inFlight.push(p.catch(() => undefined));
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
    if (!(call instanceof PendingCall)) {
      call.deliver(msg);
      return;
    }
    const hdrs = msg.headers;
    if (hdrs !== undefined && hdrs.code === 503) {
      this.#fail(call, new RpcError('NO_RESPONDERS', `no worker serves ${call.name}`));
      return;
    }
    let reply;
    try {
      reply = decodeReply(msg.data, this.#opts.limits);
    } catch (cause) {
      this.#settle(call, new RpcError('INTERNAL', `invalid reply for ${call.name}: ${(cause as Error).message}`, { cause, maybeProcessed: true }));
      return;
    }
    if (reply.id !== call.id && !isUnattributedError(reply)) {
      this.#lateReplies++;
      return;
    }
    if (reply.ok) this.#settle(call, undefined, reply.result);
    else this.#fail(call, errorFromWire(reply.error));
  };

  readonly #expire = (call: PendingCall): void => {
    if (this.#pending.get(call.seq) !== call) return;
    this.#pending.delete(call.seq);
    call.reject(new RpcError('TIMEOUT', `${call.name} did not reply within ${call.timeoutMs} ms`));
  };

  #settle(call: PendingCall, err: RpcError | undefined, result?: unknown): void {
    if (!this.#pending.delete(call.seq)) return;
    this.#deadlines.delete(call);
    if (err === undefined) call.resolve(result);
    else call.reject(err);
  }

  /** A failed fast-path attempt: retried by attempts.ts when the policy allows it, else the call fails. */
  #fail(call: PendingCall, err: RpcError): void {
    const retry = this.#opts.retry;
    if (retry.maxAttempts < 2 || !isRetryable(err, false) || this.#closing !== null) {
      this.#settle(call, err);
      return;
    }
    if (!this.#pending.delete(call.seq)) return;
    this.#deadlines.delete(call);
    const spec = callSpec(this.#opts, call.target, call.payload, { headers: call.headers }, call.timeoutMs);
    this.#track(runCall(this.#transport, this.#prober, spec, call.id, { startedAt: call.startedAt, error: err })).then(call.resolve, call.reject);
  }

  #failAll(code: 'UNAVAILABLE', message: string): void {
    for (const entry of [...this.#pending.values()]) {
      if (entry instanceof PendingCall) this.#settle(entry, new RpcError(code, message, { maybeProcessed: true }));
      else entry.lost();
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
        const waiters = this.#connectWaiters;
        this.#connectWaiters = [];
        for (const w of waiters) w();
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
