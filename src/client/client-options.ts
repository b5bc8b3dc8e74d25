/**
 * Client options: their validation and defaults, and how a call's options over them become the
 * spec that attempts.ts runs.
 */
import type { NatsConnection } from 'nats';
import { MAX_BUDGET_MS } from '../protocol/envelope.js';
import { DEFAULT_MSGPACK_LIMITS, type MsgpackLimits } from '../protocol/msgpack-guard.js';
import { assertPrefix, DEFAULT_PREFIX } from '../protocol/subjects.js';
import type { ConnectionOptions } from '../connection/options.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { checkInt } from '../options/number-option.js';
import type { CallSpec } from './attempts.js';
import {
  resolveBudgetOptions,
  resolveHedgePolicy,
  resolveLostWorkerPolicy,
  resolveRetryPolicy,
  type CallOptions,
  type HedgePolicy,
  type LostWorkerPolicy,
  type RetryBudgetOptions,
  type RetryPolicy,
} from './call-options.js';
import type { ResolvedTarget } from './transport.js';

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
  /** Retry policy of every call (a call's `retry` overrides it); `false` turns retries off. Default 3 attempts. */
  retry?: Partial<RetryPolicy> | false;
  /** Share of extra load retries and hedges may add, per service. Default 10% and a burst of 10. */
  retryBudget?: Partial<RetryBudgetOptions>;
  /** Hedging of idempotent calls, unless a call says otherwise. Default none. */
  hedge?: HedgePolicy;
  /** Default of the call option `waitForWorkers`. */
  waitForWorkers?: boolean;
  /** Default of the call option `waitForConnection`. */
  waitForConnection?: boolean;
  /** How lost workers are detected for idempotent calls. */
  lostWorker?: Partial<LostWorkerPolicy>;
  /** Follow the supervisor's per-service deadline policy (clamp to its maximum, use its default). Default true. */
  deadlinePolicy?: boolean;
}

/** A timeout option: whole milliseconds from 1 to the largest budget the envelope carries. */
export function checkTimeout(name: string, value: unknown): number {
  return checkInt(name, value, 1, MAX_BUDGET_MS);
}

/** Validates and completes client options (the connection aside). */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  assertPrefix(prefix);
  return {
    timeoutMs: checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    prefix,
    logger: options.logger ?? createLogger('natsrpc-client'),
    limits: options.limits ?? DEFAULT_MSGPACK_LIMITS,
    ownsConnection: false,
    retry: resolveRetryPolicy(options.retry),
    budget: resolveBudgetOptions(options.retryBudget),
    hedge: resolveHedgePolicy(options.hedge),
    waitForWorkers: options.waitForWorkers ?? false,
    waitForConnection: options.waitForConnection ?? false,
    lostWorker: resolveLostWorkerPolicy(options.lostWorker),
    deadlinePolicy: options.deadlinePolicy ?? true,
  };
}

export interface ResolvedClientOptions {
  timeoutMs: number;
  prefix: string;
  logger: Logger;
  limits: MsgpackLimits;
  ownsConnection: boolean;
  retry: Readonly<RetryPolicy>;
  budget: RetryBudgetOptions;
  hedge: Readonly<Required<HedgePolicy>> | undefined;
  waitForWorkers: boolean;
  waitForConnection: boolean;
  lostWorker: Readonly<LostWorkerPolicy>;
  deadlinePolicy: boolean;
}

/** Options that need more than one publish and one reply: retries up front, hedges, cancellation... */
export function needsOrchestration(o: CallOptions): boolean {
  return (
    o.signal !== undefined ||
    o.idempotent === true ||
    o.hedge !== undefined ||
    o.waitForWorkers !== undefined ||
    o.waitForConnection !== undefined ||
    o.retry !== undefined
  );
}

/** The orchestration spec of one call: the call's options over the client's defaults. */
export function callSpec(o: ResolvedClientOptions, t: ResolvedTarget, payload: unknown, options: CallOptions, timeoutMs: number): CallSpec {
  const idempotent = options.idempotent === true;
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  const hedge = options.hedge === undefined ? o.hedge : resolveHedgePolicy(options.hedge);
  return {
    target: t,
    payload,
    headers: options.headers,
    timeoutMs,
    signal: options.signal,
    idempotent,
    retry: resolveRetryPolicy(options.retry, o.retry),
    hedge: idempotent ? hedge : undefined,
    waitForWorkers: options.waitForWorkers ?? o.waitForWorkers,
    waitForConnection: options.waitForConnection ?? o.waitForConnection,
    lostWorker: o.lostWorker,
  };
}
