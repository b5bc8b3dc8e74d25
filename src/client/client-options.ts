/**
 * Client options: their validation and defaults, and how a call's options over them become the
 * spec that the call engine runs.
 */
import type { NatsConnection } from 'nats';
import { DEFAULT_MSGPACK_LIMITS, type MsgpackLimits } from '../protocol/msgpack-guard.js';
import { assertPrefix } from '../protocol/subjects.js';
import type { ConnectionOptions } from '../connection/options.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { checkNumberOption, resolveBoolean, resolveNumber, resolveString } from '../options/resolve.js';
import { BODY_OPTIONS, CLIENT_OPTIONS, PROCESS_OPTIONS } from '../options/table.js';
import {
  resolveBudgetOptions,
  resolveHedgePolicy,
  resolveLostWorkerPolicy,
  resolveRetryPolicy,
  retryPolicyFromEnv,
  type CallOptions,
  type HedgePolicy,
  type LostWorkerPolicy,
  type RetryBudgetOptions,
  type RetryPolicy,
} from './call-options.js';
import type { Headers } from '../protocol/envelope.js';
import type { ResolvedTarget } from './transport.js';

export { DEFAULT_TIMEOUT_MS } from '../options/table.js';

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
  /** Largest request or reply body, sent in chunks beyond the broker's max_payload, in bytes. Default 64 MiB. */
  maxBodyBytes?: number;
}

/** A timeout option: whole milliseconds from 1 to the largest budget the envelope carries. */
export function checkTimeout(name: string, value: unknown): number {
  return checkNumberOption(CLIENT_OPTIONS.timeoutMs, value, undefined, name);
}

/** Validates and completes client options (the connection aside): option, else environment, else default. */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const prefix = resolveString(PROCESS_OPTIONS.prefix, options.prefix)!;
  assertPrefix(prefix);
  return {
    timeoutMs: resolveNumber(CLIENT_OPTIONS.timeoutMs, options.timeoutMs),
    prefix,
    logger: options.logger ?? createLogger('natsrpc-client'),
    limits: options.limits ?? DEFAULT_MSGPACK_LIMITS,
    ownsConnection: false,
    retry: resolveRetryPolicy(options.retry, retryPolicyFromEnv()),
    budget: resolveBudgetOptions(options.retryBudget),
    hedge: resolveHedgePolicy(options.hedge),
    waitForWorkers: resolveBoolean(CLIENT_OPTIONS.waitForWorkers, options.waitForWorkers),
    waitForConnection: resolveBoolean(CLIENT_OPTIONS.waitForConnection, options.waitForConnection),
    lostWorker: resolveLostWorkerPolicy(options.lostWorker),
    deadlinePolicy: resolveBoolean(CLIENT_OPTIONS.deadlinePolicy, options.deadlinePolicy),
    maxBodyBytes: resolveNumber(BODY_OPTIONS.maxBodyBytes, options.maxBodyBytes),
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
  maxBodyBytes: number;
}

/** What the call engine (call-engine.ts) runs: one call's options over the client's defaults, resolved. */
export interface CallSpec {
  readonly target: ResolvedTarget;
  readonly payload: unknown;
  readonly headers: Headers | undefined;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly idempotent: boolean;
  readonly retry: Readonly<RetryPolicy>;
  readonly hedge: Readonly<Required<HedgePolicy>> | undefined;
  readonly waitForWorkers: boolean;
  readonly waitForConnection: boolean;
  readonly lostWorker: Readonly<LostWorkerPolicy>;
}

/** The spec of one call: the call's options over the client's defaults. */
export function callSpec(o: ResolvedClientOptions, t: ResolvedTarget, payload: unknown, options: CallOptions | undefined, timeoutMs: number): CallSpec {
  if (options === undefined) {
    return { target: t, payload, headers: undefined, timeoutMs, signal: undefined, idempotent: false, retry: o.retry, hedge: undefined, waitForWorkers: o.waitForWorkers, waitForConnection: o.waitForConnection, lostWorker: o.lostWorker };
  }
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
