/**
 * The worker runtime: one queue-group subscription per service, a bounded number of handlers in
 * flight, deadlines enforced through each call's abort signal, and a drain that loses no call.
 */
import { hostname } from 'node:os';
import type { Msg, NatsConnection, Subscription } from 'nats';
import type { RequestEnvelope } from '../protocol/envelope.js';
import { cancelSubject, creditSubject, isLastToken, pingSubject, queueGroup, serviceWildcard } from '../protocol/subjects.js';
import { DeadlinePolicyCache } from '../client/deadline-policy.js';
import type { Logger } from '../logging/logger.js';
import { LoopProgress } from '../timing/loop-progress.js';
import { workerTracing, type WorkerTracing } from '../tracing/call-tracing.js';
import { ASKS_ACK, CallContext, PAST_DEADLINE, REPLY, REPLY_TO, STARTED_AT, TRACKED } from './context.js';
import { CallCallerProbes } from './call-caller-probes.js';
import { watchPublishRefusals } from './publish-refusals.js';
import { CallMoves } from './call-moves.js';
import { HandlerDeadlines } from './handler-deadlines.js';
import { ActiveCalls } from './active-calls.js';
import { InFlightDrain } from './in-flight-drain.js';
import { resolveMethod, type ResolvedMethod, type WorkerDefinition } from './definition.js';
import { OutboundCalls } from './outbound.js';
import { CancelIndex, namesReply } from './cancel-index.js';
import { ServiceDiscovery, workerMetadata } from './service-discovery.js';
import { WorkerReplies } from './replies.js';
import { AckBatch, CallerPresence } from './ack-batch.js';
import { answerCensusProbes } from './census-answers.js';
import { QueueGroupMembership } from './queue-group.js';
import { WorkerLifecycle, type WorkerState } from './lifecycle.js';
import { WorkerStreams } from './streams.js';
import { WorkerBodies } from './bodies.js';
import { RequestAdmission } from './admission.js';
import { HandlerRunner } from './handler-run.js';
import { WorkerStats, type WorkerStatsSnapshot } from './stats.js';
import type { ControlSecurity } from './control-auth.js';
import type { ResolvedWorkerOptions } from './worker-options.js';
import { defaultLowWater, LeaveWhenFull, type HeldRequest } from './load-aware-routing.js';

export { DEFAULT_DRAIN_TIMEOUT_MS } from '../options/table.js';
export type { WorkerState } from './lifecycle.js';
export type { ResolvedWorkerOptions } from './worker-options.js';

export class RpcWorker {
  readonly id: string;
  readonly service: string;
  readonly version: string;
  readonly host = hostname();
  readonly concurrency: number;
  /** How this worker checks control commands, and whether it warns about it. */
  readonly security: Readonly<ControlSecurity>;
  readonly stats = new WorkerStats();
  readonly #nc: NatsConnection;
  readonly #definition: WorkerDefinition;
  readonly #methods: Map<string, ResolvedMethod>;
  readonly #cancels: CancelIndex;
  readonly #controlSubs: Subscription[];
  readonly #outbound: OutboundCalls;
  readonly #opts: ResolvedWorkerOptions;
  readonly #log: Logger;
  readonly #active = new ActiveCalls<CallContext>();
  readonly #deadlines = new HandlerDeadlines();
  readonly #loop = new LoopProgress();
  readonly #group: QueueGroupMembership;
  readonly #routing: LeaveWhenFull | null;
  readonly #inFlight: InFlightDrain;
  readonly #lifecycle: WorkerLifecycle;
  /** Spans around handlers, or null when no OpenTelemetry SDK was registered when the worker started. */
  readonly #tracing: WorkerTracing | null = workerTracing();
  readonly #runner: HandlerRunner;
  #discovery: ServiceDiscovery | null = null;
  readonly #replies: WorkerReplies;
  readonly #acks: AckBatch<CallContext>;
  /** Server streams, when a method streams (its handler is an `async function*`). */
  readonly #streams: WorkerStreams | null;
  /** Request and reply bodies beyond the broker's max_payload, in chunks. */
  readonly #bodies: WorkerBodies;
  readonly #presence = new CallerPresence();
  /** The supervisor's deadline policy: its maximum for this service caps every request's budget. */
  readonly #policy: DeadlinePolicyCache;
  readonly #admission: RequestAdmission;
  /** Probes the callers of long plain calls: one that is gone cancels its call. */
  readonly #callerProbes: CallCallerProbes;

  /** @internal use {@link startWorker} */
  constructor(nc: NatsConnection, definition: WorkerDefinition, opts: ResolvedWorkerOptions) {
    this.#nc = nc;
    this.#definition = definition;
    this.#opts = opts;
    this.#log = opts.logger;
    this.id = opts.id;
    this.service = definition.service;
    this.version = definition.version ?? '0.0.0';
    this.concurrency = opts.concurrency;
    this.security = Object.freeze({ ...(opts.security ?? { control: 'unsigned' }) });
    this.#methods = new Map(Object.entries(definition.methods).map(([name, m]) => [name, resolveMethod(name, m)]));
    this.#routing = opts.routing === 'leave-when-full' ? this.#loadAwareRouting(opts.lowWater ?? defaultLowWater(opts.concurrency)) : null;
    this.#outbound = new OutboundCalls(nc, opts.prefix, opts.logger);
    this.#cancels = new CancelIndex(opts.limits, (id, replies) =>
      this.#active.find((ctx) => !ctx[TRACKED] && ctx.requestId === id && namesReply(replies, ctx[REPLY])),
    );
    // Liveness and cancellation stay subscribed through a drain: the calls in flight need them.
    this.#controlSubs = [
      answerCensusProbes(nc, pingSubject(opts.prefix, this.service, this.id), this.id, () => this.#acks.flush(), () => this.#group.joined),
      this.#cancels.listen(nc, cancelSubject(opts.prefix, definition.service)),
    ];
    if (opts.discovery) {
      const metadata = workerMetadata(this.security, this.host, () => this.#lifecycle.state);
      this.#discovery = new ServiceDiscovery(nc, { service: this.service, id: this.id, version: this.version, prefix: opts.prefix, methods: [...this.#methods.keys()], metadata }, this.#log);
    }
    this.#acks = new AckBatch<CallContext>(this.id, (subject, data) => nc.publish(subject, data), (ctx) => this.#active.has(ctx));
    // Long calls move to a fresh reply subject, by credit on the subject streams take theirs on.
    const moves = new CallMoves((id, token) => this.#active.find((ctx) => ctx.requestId === id && isLastToken(ctx[REPLY], token)));
    const streaming = [...this.#methods.values()].some((m) => m.streaming);
    this.#streams = streaming ? new WorkerStreams(nc, opts.prefix, this.service, this.id, opts.limits, this.#log, moves.move) : null;
    watchPublishRefusals(nc, this.stats, this.#log);
    this.#callerProbes = new CallCallerProbes(nc, opts.prefix, this.service, this.id, () => this.#active.toArray());
    if (!streaming) this.#controlSubs.push(moves.listen(nc, creditSubject(opts.prefix, this.service, this.id), opts.limits));
    this.#bodies = new WorkerBodies(nc, opts.prefix, definition.service, this.id, opts.maxBodyBytes, opts.limits, this.#log);
    this.#replies = new WorkerReplies(nc, this.stats, this.#discovery, this.#bodies, this.#log);
    this.#inFlight = new InFlightDrain(this.#active, this.#log);
    this.#runner = new HandlerRunner(this.service, this.#tracing, this.#streams, this.#bodies, this.#log, this.#finish);
    this.#policy = new DeadlinePolicyCache(nc, opts.prefix, this.#log, opts.policyVerifier ?? null);
    const subjectPrefixLength = serviceWildcard(opts.prefix, definition.service).length - 1;
    this.#group = new QueueGroupMembership(nc, serviceWildcard(opts.prefix, this.service), queueGroup(this.service), this.#onMessage);
    this.#admission = new RequestAdmission(this.service, this.#methods, subjectPrefixLength, opts.limits, opts.maxBudgetMs, this.#policy, this.#loop, this.#replies, this.stats);
    this.#lifecycle = new WorkerLifecycle(this.#group, this.#inFlight, this.stats, nc, this.#log, opts.drainTimeoutMs, (runStopHooks) => this.#release(runStopHooks));
    this.#group.join();
  }

  get state(): WorkerState {
    return this.#lifecycle.state;
  }

  get inFlight(): number {
    return this.#active.size;
  }

  /** Handlers still running past their deadline. */
  get overdue(): number {
    return this.#deadlines.overdue;
  }

  get connection(): NatsConnection {
    return this.#nc;
  }

  get definition(): WorkerDefinition {
    return this.#definition;
  }

  snapshot(): WorkerStatsSnapshot {
    return this.stats.snapshot(this.#active.size);
  }

  /**
   * Leaves the queue group, so the broker routes new requests to other workers, and waits for the
   * handlers in flight (at most `drainTimeoutMs`, then their signals are aborted). The connection
   * stays open; {@link resume} rejoins. Calling it again returns the same promise.
   */
  drain(): Promise<void> {
    return this.#lifecycle.drain();
  }

  /** Rejoins the queue group after a drain, with its fault streak reset. */
  resume(): Promise<void> {
    return this.#lifecycle.resume();
  }

  /** Drains, then closes the connection (if the worker opened it). Calling it again returns the same promise. */
  stop(): Promise<void> {
    return this.#lifecycle.stop();
  }

  /** @internal runs once the worker has drained, before its connection closes (the final heartbeat). */
  onStop(hook: (reason: string) => Promise<void>): void {
    this.#lifecycle.onStop(hook);
  }

  /** @internal called after every change of state (the agent sends a heartbeat at once). */
  onStateChange(hook: (state: WorkerState) => void): void {
    this.#lifecycle.onStateChange(hook);
  }

  /** Once stopped: frees what the worker holds, runs the stop hooks, closes the connection it opened. */
  async #release(runStopHooks: () => Promise<void>): Promise<void> {
    this.#discovery?.close();
    this.#policy.close();
    this.#deadlines.clear();
    this.#callerProbes.close();
    this.#loop.close();
    await this.#outbound.close();
    if (!this.#opts.ownsConnection) for (const sub of this.#controlSubs) sub.unsubscribe();
    if (!this.#opts.ownsConnection) this.#streams?.close();
    this.#bodies.close();
    await runStopHooks();
    if (this.#opts.ownsConnection && !this.#nc.isClosed()) {
      // Replies of the last handlers are in the outbound buffer: flush before closing, and never
      // use nc.drain(), which may close before async handlers have replied.
      await this.#nc.flush().catch(() => undefined);
      await this.#nc.close();
    }
    this.#log.info(this.stats.snapshot(0), 'worker stopped');
  }

  readonly #onMessage = (err: Error | null, msg: Msg): void => {
    if (err !== null) {
      this.#log.error({ err }, 'subscription error');
      return;
    }
    const arrivedAt = performance.now();
    this.stats.received++;
    const reply = msg.reply;
    if (!reply) {
      this.stats.noReply++;
      return;
    }
    const req = this.#admission.read(msg, reply);
    if (req === null) return;
    const method = req.method;
    const entry = this.#admission.methodFor(req, reply, arrivedAt);
    if (entry === null) return;
    if (this.#lifecycle.drainExpired) {
      this.#replies.refuse(reply, req.id, 'DRAINING', `worker ${this.id} is shutting down`);
      return;
    }
    const bodyRefusal = req.body == null ? null : this.#bodies.refusal(req.body.bytes);
    if (bodyRefusal !== null) {
      // Refused before any buffer is allocated: too large for this worker, or no room now.
      const why = bodyRefusal === 'OVERLOADED' ? 'holds as many request bodies as it has room for' : `takes bodies of at most ${this.#bodies.maxBodyBytes} bytes`;
      this.#replies.refuse(reply, req.id, bodyRefusal, `worker ${this.id} ${why}; the request body has ${req.body!.bytes}`);
      return;
    }
    if (this.#active.size >= this.concurrency) {
      if (this.#routing?.hold({ req, method, reply, arrivedAt }) === true) {
        // Held in the backlog: its caller learns it is here, as for a request being run.
        if (req.ack === true || req.lateAck === true) this.#acks.add(reply, null);
        return;
      }
      this.#replies.refuse(reply, req.id, 'OVERLOADED', `worker ${this.id} is at its concurrency limit of ${this.concurrency}`);
      return;
    }
    this.#start(req, method, entry, reply, arrivedAt);
  };

  #start(req: RequestEnvelope, method: string, entry: ResolvedMethod, reply: string, arrivedAt: number): void {
    const ctx = new CallContext(req.id, this.service, method, req.attempt, req.headers, req.budgetMs, arrivedAt, this.#log, this.#outbound);
    ctx[REPLY] = reply;
    ctx[ASKS_ACK] = req.ack === true || req.lateAck === true;
    this.#active.add(ctx);
    this.#deadlines.start(ctx, arrivedAt + req.budgetMs);
    this.#routing?.afterStart();
    if (req.cancellable === true) this.#cancels.track(ctx);
    if (req.ack === true || (req.lateAck === true && this.#presence.due(reply, arrivedAt))) {
      // Acked with the other requests of this read, before any of their handlers runs.
      this.#acks.add(reply, { start: () => this.#runner.begin(entry, req, ctx, reply) });
    } else {
      this.#runner.begin(entry, req, ctx, reply);
      // Still running after its start: the caller learns which worker holds it, unless it is
      // answered by the time the batch goes (an async handler that finishes at once).
      if (req.lateAck === true && this.#active.has(ctx)) this.#acks.add(reply, null, ctx);
    }
  }

  /** Where every run ends (see {@link HandlerRunner}): the slot is freed and the reply sent. */
  readonly #finish = (ctx: CallContext, reply: string, result: unknown, err: unknown, failed: boolean): void => {
    // A result that comes after the deadline fired is not delivered: the caller has ended the call
    // as TIMEOUT, or would take a late result just before its own timer runs (a busy event loop).
    if (!failed && ctx[PAST_DEADLINE]) {
      failed = true;
      err = ctx.abortReason;
    }
    this.#active.delete(ctx);
    this.#tracing?.end(ctx, failed, err);
    if (ctx[TRACKED]) this.#cancels.untrack(ctx);
    if (this.#deadlines.overran(ctx)) this.stats.overruns++;
    const elapsedMs = performance.now() - ctx[STARTED_AT];
    this.stats.latency.record(elapsedMs);
    // null: the caller cancelled and nobody listens for a reply; the slot is free all the same.
    const data = failed ? this.#replies.failed(ctx, elapsedMs, err) : this.#replies.succeeded(ctx, ctx[REPLY_TO] || reply, elapsedMs, result);
    this.#routing?.afterFinish(); // before the reply: the broker sees a rejoin before the next request
    if (data !== null) this.#replies.send(ctx[REPLY_TO] || reply, ctx.requestId, data);
    if (this.#active.size === 0) this.#inFlight.idle();
  };

  #loadAwareRouting(lowWater: number): LeaveWhenFull {
    return new LeaveWhenFull(this.concurrency, lowWater, {
      inGroup: () => this.#group.joined,
      canJoin: () => this.#lifecycle.mayJoin && !this.#nc.isClosed(),
      inFlight: () => this.#active.size,
      leave: () => this.#group.leave(),
      join: () => this.#group.join(),
      start: (held: HeldRequest) => {
        if (performance.now() - held.arrivedAt >= held.req.budgetMs) {
          this.stats.expired++;
          return;
        }
        this.#start(held.req, held.method, this.#methods.get(held.method)!, held.reply, held.arrivedAt);
      },
    });
  }
}
