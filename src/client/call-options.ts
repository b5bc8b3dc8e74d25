/**
 * Options of a call and the policies behind them: retries, hedging, waiting for workers or for
 * the connection. Defaults are named constants; everything is validated up front.
 */
import type { Headers } from '../protocol/envelope.js';
import { processEnv, type Env } from '../options/env.js';
import { checkNumberOption, resolveNumber } from '../options/resolve.js';
import {
  DEFAULT_BACKOFF_MULTIPLIER,
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_BACKOFF_MS,
  HEDGE_OPTIONS,
  LOST_WORKER_OPTIONS,
  RETRY_BUDGET_OPTIONS,
  RETRY_OPTIONS,
} from '../options/table.js';

/** How failed attempts are retried. Only safe codes are retried; see `retryable` in retry-policy.ts. */
export interface RetryPolicy {
  /** Attempts at most, the first included; 1 turns retries off. Default 3. */
  maxAttempts: number;
  /** Cap of the first backoff in ms (full jitter: the wait is uniform in [0, cap)). Default 20. */
  initialBackoffMs: number;
  /** Largest backoff cap in ms. Default 1,000. */
  maxBackoffMs: number;
  /** Growth of the cap per retry. Default 2. */
  backoffMultiplier: number;
  /**
   * Optional time an attempt may take before it counts as a `TIMEOUT` of its own and (idempotent
   * calls only) is retried; the call's deadline still bounds everything. Default: none.
   */
  perAttemptTimeoutMs?: number;
}

/** For idempotent calls: when no reply has come after a delay, send another attempt; first reply wins. */
export interface HedgePolicy {
  /** Fixed delay in ms, or `'p95'`: the observed 95th percentile of this method's attempts. */
  delayMs: number | 'p95';
  /** Attempts at most, the first included. Default 2. */
  maxAttempts?: number;
  /** Delay used with `'p95'` until enough latencies have been observed. Default 50. */
  fallbackDelayMs?: number;
}

/** Retry throttling in the spirit of gRPC's: retries and hedges may add at most `ratio` extra load. */
export interface RetryBudgetOptions {
  /** Tokens earned per call; a retry or hedge spends one. Default 0.1 (10% extra load). */
  ratio: number;
  /** Tokens at the start and at most saved up, so a quiet client can still retry. Default 10. */
  burst: number;
}

/** How a lost worker is noticed for idempotent calls; see docs/protocol.md, *Lost workers*. */
export interface LostWorkerPolicy {
  /** An attempt not acknowledged within this many ms is sent again (idempotent calls). Default 250. */
  ackTimeoutMs: number;
  /** An acknowledged attempt silent this long has its worker probed. Default 250. */
  probeAfterMs: number;
  /** Probe again this often while the attempt stays silent. Default 250. */
  probeIntervalMs: number;
  /** A probe unanswered this long says nothing (the worker may be busy). Default 1,000. */
  probeTimeoutMs: number;
}

export interface CallOptions {
  /** Time budget of this call in milliseconds; retries and hedges never extend it. */
  timeoutMs?: number;
  /** Aborting it rejects the call at once with `CANCELLED` and cancels the handler on the worker. */
  signal?: AbortSignal;
  /** String headers carried to the handler (trace context, caller identity...). */
  headers?: Headers;
  /** The method may run more than once safely: enables retrying TIMEOUTs and lost attempts, and hedging. */
  idempotent?: boolean;
  /** Overrides the client's retry policy for this call; `false` turns retries off. */
  retry?: Partial<RetryPolicy> | false;
  /** Hedging for this idempotent call; `false` turns the client's off. */
  hedge?: HedgePolicy | false;
  /** On `NO_RESPONDERS`, keep retrying with backoff until the deadline (a deploy in progress). */
  waitForWorkers?: boolean;
  /** While the client is reconnecting, wait for the connection within the deadline instead of failing. */
  waitForConnection?: boolean;
}

export {
  DEFAULT_ACK_TIMEOUT_MS,
  DEFAULT_BACKOFF_MULTIPLIER,
  DEFAULT_HEDGE_FALLBACK_DELAY_MS,
  DEFAULT_HEDGE_MAX_ATTEMPTS,
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_PROBE_AFTER_MS,
  DEFAULT_PROBE_INTERVAL_MS,
  DEFAULT_PROBE_TIMEOUT_MS,
  DEFAULT_RETRY_BUDGET_BURST,
  DEFAULT_RETRY_BUDGET_RATIO,
} from '../options/table.js';

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  initialBackoffMs: DEFAULT_INITIAL_BACKOFF_MS,
  maxBackoffMs: DEFAULT_MAX_BACKOFF_MS,
  backoffMultiplier: DEFAULT_BACKOFF_MULTIPLIER,
});

const NO_RETRY: Readonly<RetryPolicy> = Object.freeze({ ...DEFAULT_RETRY_POLICY, maxAttempts: 1 });

/** Merges `override` into `base` and validates the result. */
export function resolveRetryPolicy(override: Partial<RetryPolicy> | false | undefined, base: Readonly<RetryPolicy> = DEFAULT_RETRY_POLICY): Readonly<RetryPolicy> {
  if (override === undefined) return base;
  if (override === false) return NO_RETRY;
  if (typeof override !== 'object' || override === null) throw new TypeError(`retry must be an object or false, received ${String(override)}`);
  const p: RetryPolicy = { ...base, ...override };
  checkNumberOption(RETRY_OPTIONS.maxAttempts, p.maxAttempts);
  checkNumberOption(RETRY_OPTIONS.initialBackoffMs, p.initialBackoffMs);
  checkNumberOption(RETRY_OPTIONS.maxBackoffMs, p.maxBackoffMs);
  checkNumberOption(RETRY_OPTIONS.backoffMultiplier, p.backoffMultiplier);
  if (p.perAttemptTimeoutMs !== undefined) checkNumberOption(RETRY_OPTIONS.perAttemptTimeoutMs, p.perAttemptTimeoutMs);
  return Object.freeze(p);
}

/** A client's base retry policy: each field from the environment (`NATSRPC_RETRY_*`) or its default. */
export function retryPolicyFromEnv(env: Env = processEnv()): Readonly<RetryPolicy> {
  const p: RetryPolicy = {
    maxAttempts: resolveNumber(RETRY_OPTIONS.maxAttempts, undefined, env),
    initialBackoffMs: resolveNumber(RETRY_OPTIONS.initialBackoffMs, undefined, env),
    maxBackoffMs: resolveNumber(RETRY_OPTIONS.maxBackoffMs, undefined, env),
    backoffMultiplier: resolveNumber(RETRY_OPTIONS.backoffMultiplier, undefined, env),
  };
  const perAttemptTimeoutMs = resolveNumber(RETRY_OPTIONS.perAttemptTimeoutMs, undefined, env);
  if (perAttemptTimeoutMs !== undefined) p.perAttemptTimeoutMs = perAttemptTimeoutMs;
  return Object.freeze(p);
}

export function resolveHedgePolicy(hedge: HedgePolicy | false | undefined): Readonly<Required<HedgePolicy>> | undefined {
  if (hedge === undefined || hedge === false) return undefined;
  if (typeof hedge !== 'object' || hedge === null) throw new TypeError(`hedge must be an object or false, received ${String(hedge)}`);
  if (hedge.delayMs !== 'p95') checkNumberOption(HEDGE_OPTIONS.delayMs, hedge.delayMs);
  return Object.freeze({
    delayMs: hedge.delayMs,
    maxAttempts: resolveNumber(HEDGE_OPTIONS.maxAttempts, hedge.maxAttempts),
    fallbackDelayMs: resolveNumber(HEDGE_OPTIONS.fallbackDelayMs, hedge.fallbackDelayMs),
  });
}

export function resolveBudgetOptions(options: Partial<RetryBudgetOptions> | undefined, env: Env = processEnv()): RetryBudgetOptions {
  return {
    ratio: resolveNumber(RETRY_BUDGET_OPTIONS.ratio, options?.ratio, env),
    burst: resolveNumber(RETRY_BUDGET_OPTIONS.burst, options?.burst, env),
  };
}

export function resolveLostWorkerPolicy(options: Partial<LostWorkerPolicy> | undefined, env: Env = processEnv()): Readonly<LostWorkerPolicy> {
  return Object.freeze({
    ackTimeoutMs: resolveNumber(LOST_WORKER_OPTIONS.ackTimeoutMs, options?.ackTimeoutMs, env),
    probeAfterMs: resolveNumber(LOST_WORKER_OPTIONS.probeAfterMs, options?.probeAfterMs, env),
    probeIntervalMs: resolveNumber(LOST_WORKER_OPTIONS.probeIntervalMs, options?.probeIntervalMs, env),
    probeTimeoutMs: resolveNumber(LOST_WORKER_OPTIONS.probeTimeoutMs, options?.probeTimeoutMs, env),
  });
}
