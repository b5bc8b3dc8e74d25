/**
 * The request helper. Every call runs in the call engine (call-engine.ts): a publish with a reply
 * subject under the client's one wildcard inbox, one shared deadline timer, and, when a call asks
 * for more (retries after a refusal, idempotent resends, hedges, waiting), the same engine's
 * timers. Every way a call can end is an {@link RpcError}.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { RpcError } from '../protocol/errors.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../protocol/body.js';
import { openConnection } from '../connection/options.js';
import { SYSTEM_CLOCK } from '../timing/clock.js';
import { DeadlineQueue } from '../timing/deadline-queue.js';
import { clientTracing, type ClientTracing } from '../tracing/call-tracing.js';
import { Call } from './call-engine.js';
import type { CallOptions } from './call-options.js';
import { callSpec, checkTimeout, resolveClientOptions, type CallSpec, type ClientOptions, type ResolvedClientOptions } from './client-options.js';
import { serviceProxy, type ApiOf, type ContractLike } from './contract-proxy.js';
import { LatencyTracker } from './hedging.js';
import { ReplyInbox } from './inbox.js';
import { ConnectionStatus } from './connection-status.js';
import { LivenessProber } from './liveness.js';
import { LossWatch } from './loss-watch.js';
import { QUIET_AFTER_MS, SUSPECT_AFTER_MS, WorkerCensus } from './census.js';
import { DeadlinePolicyCache } from './deadline-policy.js';
import { RetryBudget } from './retry-budget.js';
import { parseTarget } from './target.js';
import { StreamCall } from './stream-call.js';
import { resolveStreamDefaults, streamSpec, type RpcStream, type StreamOptions, type StreamSpec } from './stream-options.js';
import type { CallTransport, Expirable, ResolvedTarget } from './transport.js';

export type { CallOptions } from './call-options.js';
export type { ApiOf } from './contract-proxy.js';
export type { RpcStream, StreamOptions } from './stream-options.js';
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

/** How often per {@link SUSPECT_AFTER_MS} the client looks for attempts silent that long. */
const ACK_SWEEPS_PER_SUSPICION = 2;
/** How often per {@link QUIET_AFTER_MS} it looks for workers gone quiet. */
const QUIET_SWEEPS_PER_SILENCE = 3;

export class RpcClient {
  readonly #nc: NatsConnection;
  readonly #opts: ResolvedClientOptions;
  readonly #inbox: ReplyInbox;
  readonly #deadlines = new DeadlineQueue<Expirable>((call) => call.expire());
  readonly #targets = new Map<string, ResolvedTarget>();
  readonly #budgets = new Map<string, RetryBudget>();
  readonly #transport: CallTransport;
  readonly #prober: LivenessProber;
  readonly #losses: LossWatch;
  /** Which workers of each service this client heard from, and counts them when one is lost (census.ts). */
  readonly #census: WorkerCensus;
  /** Looks for silent attempts, twice per suspicion delay. */
  readonly #ackSweep: ReturnType<typeof setInterval>;
  /** Looks for workers gone quiet. */
  readonly #quietSweep: ReturnType<typeof setInterval>;
  readonly #idPrefix = randomBytes(9).toString('base64url') + '.';
  readonly #policy: DeadlinePolicyCache | null;
  #seq = 0;
  readonly #status: ConnectionStatus;
  #closing: Promise<void> | null = null;
  /** Calls not yet ended, and what close() waits on when it has to. */
  #running = 0;
  #idle: (() => void) | null = null;
  readonly #callDone = (): void => {
    if (--this.#running === 0) this.#idle?.();
  };
  /** Spans around calls, or null when no OpenTelemetry SDK was registered when the client was made. */
  readonly #tracing: ClientTracing | null = clientTracing();
  readonly #streamDefaults = resolveStreamDefaults();
  /** Streams started and not ended: close() ends them rather than wait out their deadlines. */
  readonly #streams = new Set<{ end(err: RpcError): void }>();

  /** @internal use {@link connect} */
  constructor(nc: NatsConnection, opts: ResolvedClientOptions) {
    this.#nc = nc;
    this.#opts = opts;
    this.#inbox = new ReplyInbox(nc, opts.limits, opts.logger);
    this.#transport = this.#makeTransport();
    this.#prober = new LivenessProber(this.#transport);
    this.#census = new WorkerCensus(SYSTEM_CLOCK, this.#prober, opts.lostWorker.probeTimeoutMs, {
      gone: (service, workerId) => this.#inbox.workerLost(service, workerId, SYSTEM_CLOCK.now(), false),
      concluded: (service, before) => this.#inbox.census(service, before),
    });
    this.#losses = new LossWatch(nc, opts.prefix, opts.limits, (service, workerId) => this.#transport.workerLost(service, workerId, true));
    this.#policy = opts.deadlinePolicy ? new DeadlinePolicyCache(nc, opts.prefix, opts.logger) : null;
    this.#ackSweep = setInterval(() => this.#inbox.checkAcks(SYSTEM_CLOCK.now()), SUSPECT_AFTER_MS / ACK_SWEEPS_PER_SUSPICION);
    this.#ackSweep.unref();
    this.#quietSweep = setInterval(() => this.#census.sweep(), QUIET_AFTER_MS / QUIET_SWEEPS_PER_SILENCE);
    this.#quietSweep.unref();
    // The broker dropped the connection: no reply can reach the calls in flight any more.
    this.#status = new ConnectionStatus(nc, () => this.#closing !== null, () => this.#inbox.connectionLost());
    void nc.closed().then(() => this.#inbox.connectionLost());
  }

  /** The underlying NATS connection. */
  get connection(): NatsConnection {
    return this.#nc;
  }

  /**
   * Messages dropped unread because no call waits on their reply subject: replies that arrived after
   * their call had ended (timed out or cancelled), or forged ones on a subject never handed out.
   */
  get lateReplies(): number {
    return this.#inbox.lateReplies;
  }

  /** Messages on live reply subjects dropped unread because their NATS header block was over the limits. */
  get oversizedHeaders(): number {
    return this.#inbox.oversizedHeaders;
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
    let spec: CallSpec;
    try {
      const t = this.#target(target);
      let timeoutMs = this.#opts.timeoutMs;
      if (options?.timeoutMs !== undefined) timeoutMs = checkTimeout('timeoutMs', options.timeoutMs);
      // The supervisor's per-service policy: its default when the call names none, clamped to its maximum.
      if (this.#policy !== null) timeoutMs = this.#policy.timeoutFor(t.service, options?.timeoutMs, timeoutMs);
      spec = callSpec(this.#opts, t, payload, options, timeoutMs);
    } catch (cause) {
      return Promise.reject(new RpcError('BAD_REQUEST', (cause as Error).message, { cause }));
    }
    if (this.#closing !== null) return Promise.reject(new RpcError('UNAVAILABLE', 'client is closed'));
    this.#running++;
    return new Call(this.#transport, this.#prober, spec, this.#idPrefix + (++this.#seq).toString(36), this.#callDone).promise as Promise<R>;
  }

  /**
   * Streams `target`, a method whose handler is an `async function*`: the items it yields, in
   * order, with flow control (see {@link StreamOptions}). The request is sent on the first
   * `next()`; leaving the loop early cancels the worker's generator. A stream that does not
   * complete throws an {@link RpcError} after the items that arrived.
   *
   * @example
   * ```ts
   * for await (const line of client.stream<string>('logs.tail', { n: 100 })) console.log(line);
   * ```
   */
  stream<T = unknown>(target: string, payload?: unknown, options?: StreamOptions): RpcStream<T> {
    let spec: StreamSpec | RpcError;
    try {
      spec = streamSpec(this.#streamDefaults, this.#opts, this.#target(target), payload, options);
    } catch (cause) {
      spec = new RpcError('BAD_REQUEST', (cause as Error).message, { cause });
    }
    const stream: StreamCall<T> = new StreamCall<T>(
      this.#transport,
      this.#prober,
      spec,
      this.#idPrefix + (++this.#seq).toString(36),
      () => {
        if (this.#closing !== null) return false;
        this.#running++;
        this.#streams.add(stream);
        return true;
      },
      () => {
        this.#streams.delete(stream);
        this.#callDone();
      },
    );
    return stream;
  }

  /** Retry budget of a service, shared by its targets (for tests and metrics). */
  retryBudget(service: string): RetryBudget | undefined {
    return this.#budgets.get(service);
  }

  /** Liveness probes sent so far. */
  get probesSent(): number {
    return this.#prober.sent;
  }

  #target(target: string): ResolvedTarget {
    let t = this.#targets.get(target);
    if (t === undefined) {
      t = this.#resolveTarget(target);
      if (this.#targets.size < 4_096) this.#targets.set(target, t);
    }
    return t;
  }

  #resolveTarget(target: string): ResolvedTarget {
    const parsed = parseTarget(this.#opts.prefix, target);
    let budget = this.#budgets.get(parsed.service);
    if (budget === undefined) {
      budget = new RetryBudget(this.#opts.budget);
      if (this.#budgets.size < 4_096) this.#budgets.set(parsed.service, budget);
    }
    this.#losses.watch(parsed.service);
    return { ...parsed, budget, latency: new LatencyTracker() };
  }

  #makeTransport(): CallTransport {
    const nc = this.#nc;
    const inbox = this.#inbox;
    return {
      prefix: this.#opts.prefix,
      logger: this.#opts.logger,
      clock: SYSTEM_CLOCK,
      deadlines: this.#deadlines,
      limits: this.#opts.limits,
      maxBodyBytes: this.#opts.maxBodyBytes,
      maxPayload: () => nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD_BYTES,
      isConnected: () => this.#status.connected && !nc.isClosed() && this.#closing === null,
      whenConnected: (timeoutMs) => this.#status.whenConnected(timeoutMs),
      open: (entry) => inbox.open(entry),
      replySubject: (token) => inbox.replySubject(token),
      close: (token) => inbox.close(token),
      publish: (subject, data, reply, headers) => nc.publish(subject, data, reply === undefined && headers === undefined ? undefined : { reply, headers }),
      workerLost: (service, workerId, verdict) => {
        inbox.workerLost(service, workerId, SYSTEM_CLOCK.now(), verdict);
        this.#census.lost(service, workerId);
      },
      sawWorker: (service, workerId) => this.#census.saw(service, workerId),
      suspect: (service) => this.#census.suspect(service),
    };
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
    return serviceProxy(
      name,
      contract,
      options?.validate === true,
      (target, payload, opts) => {
        parseTarget(this.#opts.prefix, target);
        return this.call(target, payload, opts);
      },
      (target, payload, opts) => this.stream(target, payload, opts),
    );
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
    this.#status.wakeWaiters();
    // An open stream may be read for minutes, or abandoned unread: it ends now, its worker told.
    for (const stream of [...this.#streams]) stream.end(new RpcError('UNAVAILABLE', 'the client was closed during the stream'));
    if (this.#running > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    this.#deadlines.clear();
    clearInterval(this.#ackSweep);
    clearInterval(this.#quietSweep);
    this.#policy?.close();
    this.#losses.close();
    if (this.#opts.ownsConnection) {
      if (!this.#nc.isClosed()) await this.#nc.close();
    } else {
      this.#inbox.unsubscribe();
    }
  }
}
