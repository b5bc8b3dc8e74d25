/**
 * The first checks on a request read from the service's subject, before it may take a slot: its
 * header block and envelope are bounded and decoded, its budget capped, its method found and
 * called the right way (call or stream), and a request whose caller has already given up is
 * dropped. A refused request is answered here; the worker goes on only with those that pass.
 */
import type { Msg } from 'nats';
import { decodeRequest } from '../protocol/codec.js';
import { MAX_BUDGET_MS, type RequestEnvelope } from '../protocol/envelope.js';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import { checkHeaderBlock } from '../protocol/nats-headers.js';
import type { DeadlinePolicyCache } from '../client/deadline-policy.js';
import type { LoopProgress } from '../timing/loop-progress.js';
import type { ResolvedMethod } from './definition.js';
import type { WorkerReplies } from './replies.js';
import type { WorkerStats } from './stats.js';

/**
 * Right after this process's event loop was stopped (see {@link LoopProgress}), a request whose
 * caller-side send time (`sentAt`) is older than its budget plus this tolerance is treated as
 * expired even if it only just arrived: it sat in a socket buffer through the stop. The tolerance
 * absorbs clock skew between hosts; outside that window `sentAt` is not read at all, so skewed
 * clocks never cost a call in normal operation.
 */
export const CLOCK_SKEW_TOLERANCE_MS = 2_000;
/**
 * A supervisor policy's maximum below this is not applied by workers (clients still clamp to it):
 * supervisor heartbeats are not authenticated everywhere, and a forged one with a maximum of a few
 * ms would otherwise make every worker abort every call. A worker's own `maxBudgetMs` has no floor.
 */
export const MIN_POLICY_BUDGET_CAP_MS = 1_000;

export class RequestAdmission {
  readonly #service: string;
  readonly #methods: ReadonlyMap<string, ResolvedMethod>;
  readonly #subjectPrefixLength: number;
  readonly #limits: MsgpackLimits;
  readonly #maxBudgetMs: number;
  /** The supervisor's deadline policy: its maximum for this service caps every request's budget. */
  readonly #policy: DeadlinePolicyCache;
  readonly #loop: LoopProgress;
  readonly #replies: WorkerReplies;
  readonly #stats: WorkerStats;

  constructor(service: string, methods: ReadonlyMap<string, ResolvedMethod>, subjectPrefixLength: number, limits: MsgpackLimits, maxBudgetMs: number, policy: DeadlinePolicyCache, loop: LoopProgress, replies: WorkerReplies, stats: WorkerStats) {
    this.#service = service;
    this.#methods = methods;
    this.#subjectPrefixLength = subjectPrefixLength;
    this.#limits = limits;
    this.#maxBudgetMs = maxBudgetMs;
    this.#policy = policy;
    this.#loop = loop;
    this.#replies = replies;
    this.#stats = stats;
  }

  /**
   * The request in `msg`, its budget capped, when its envelope is sound and names the method of
   * its subject; null when it was refused (answered on `reply`).
   */
  read(msg: Msg, reply: string): RequestEnvelope | null {
    // Before anything reads `msg.headers` (the nats header parser is quadratic in lines).
    const badHeaders = checkHeaderBlock(msg);
    if (badHeaders !== null) {
      this.#replies.refuse(reply, '', 'BAD_REQUEST', badHeaders);
      return null;
    }
    let req;
    try {
      req = decodeRequest(msg.data, this.#limits);
    } catch (e) {
      this.#replies.refuse(reply, '', 'BAD_REQUEST', (e as Error).message);
      return null;
    }
    // A caller cannot hold a slot longer than this worker and the supervisor's policy allow.
    const policyMax = this.#policy.maxFor(this.#service) ?? MAX_BUDGET_MS;
    const cap = Math.min(this.#maxBudgetMs, policyMax < MIN_POLICY_BUDGET_CAP_MS ? MAX_BUDGET_MS : policyMax);
    if (req.budgetMs > cap) req.budgetMs = cap;
    const method = msg.subject.slice(this.#subjectPrefixLength);
    if (req.method !== method) {
      this.#replies.refuse(reply, req.id, 'BAD_REQUEST', `envelope method ${JSON.stringify(req.method)} does not match subject`);
      return null;
    }
    return req;
  }

  /**
   * The method to run `req` with; null when it has no such method or is called the wrong way
   * (refused), or its caller has already given up (dropped, counted).
   */
  methodFor(req: RequestEnvelope, reply: string, arrivedAt: number): ResolvedMethod | null {
    const entry = this.#methods.get(req.method);
    if (entry === undefined) {
      this.#replies.refuse(reply, req.id, 'METHOD_NOT_FOUND', `${this.#service} has no method ${JSON.stringify(req.method)}`);
      return null;
    }
    if ((req.stream != null) !== entry.streaming) {
      const how = entry.streaming ? 'streams: call it with client.stream()' : 'does not stream: call it with client.call()';
      this.#replies.refuse(reply, req.id, 'BAD_REQUEST', `${this.#service}.${req.method} ${how}`, { streaming: entry.streaming });
      return null;
    }
    if (req.budgetMs === 0 || (req.sentAt != null && this.#loop.stalled(arrivedAt) && Date.now() - req.sentAt > req.budgetMs + CLOCK_SKEW_TOLERANCE_MS)) {
      // The caller has already given up: a reply would only be dropped.
      this.#stats.expired++;
      return null;
    }
    return entry;
  }
}
