/**
 * Options of a call and the policies behind them: retries, hedging, waiting for workers or for
 * the connection. Defaults are named constants; everything is validated up front.
 */
import { MAX_ATTEMPT, MAX_BUDGET_MS, type Headers } from '../protocol/envelope.js';
import { checkNumber } from '../options/number-option.js';

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

export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_INITIAL_BACKOFF_MS = 20;
export const DEFAULT_MAX_BACKOFF_MS = 1_000;
export const DEFAULT_BACKOFF_MULTIPLIER = 2;
export const DEFAULT_RETRY_BUDGET_RATIO = 0.1;
export const DEFAULT_RETRY_BUDGET_BURST = 10;
export const DEFAULT_HEDGE_MAX_ATTEMPTS = 2;
export const DEFAULT_HEDGE_FALLBACK_DELAY_MS = 50;
export const DEFAULT_ACK_TIMEOUT_MS = 250;
export const DEFAULT_PROBE_AFTER_MS = 250;
export const DEFAULT_PROBE_INTERVAL_MS = 250;
export const DEFAULT_PROBE_TIMEOUT_MS = 1_000;

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
  checkNumber('retry.maxAttempts', p.maxAttempts, 1, MAX_ATTEMPT);
  checkNumber('retry.initialBackoffMs', p.initialBackoffMs, 0, MAX_BUDGET_MS);
  checkNumber('retry.maxBackoffMs', p.maxBackoffMs, 0, MAX_BUDGET_MS);
  checkNumber('retry.backoffMultiplier', p.backoffMultiplier, 1, 100, false);
  if (p.perAttemptTimeoutMs !== undefined) checkNumber('retry.perAttemptTimeoutMs', p.perAttemptTimeoutMs, 1, MAX_BUDGET_MS);
  return Object.freeze(p);
}

export function resolveHedgePolicy(hedge: HedgePolicy | false | undefined): Readonly<Required<HedgePolicy>> | undefined {
  if (hedge === undefined || hedge === false) return undefined;
  if (typeof hedge !== 'object' || hedge === null) throw new TypeError(`hedge must be an object or false, received ${String(hedge)}`);
  if (hedge.delayMs !== 'p95') checkNumber('hedge.delayMs', hedge.delayMs, 1, MAX_BUDGET_MS);
  return Object.freeze({
    delayMs: hedge.delayMs,
    maxAttempts: checkNumber('hedge.maxAttempts', hedge.maxAttempts ?? DEFAULT_HEDGE_MAX_ATTEMPTS, 2, 10),
    fallbackDelayMs: checkNumber('hedge.fallbackDelayMs', hedge.fallbackDelayMs ?? DEFAULT_HEDGE_FALLBACK_DELAY_MS, 1, MAX_BUDGET_MS),
  });
}

export function resolveBudgetOptions(options: Partial<RetryBudgetOptions> | undefined): RetryBudgetOptions {
  return {
    ratio: checkNumber('retryBudget.ratio', options?.ratio ?? DEFAULT_RETRY_BUDGET_RATIO, 0, 10, false),
    burst: checkNumber('retryBudget.burst', options?.burst ?? DEFAULT_RETRY_BUDGET_BURST, 0, 1_000_000),
  };
}

export function resolveLostWorkerPolicy(options: Partial<LostWorkerPolicy> | undefined): Readonly<LostWorkerPolicy> {
  return Object.freeze({
    ackTimeoutMs: checkNumber('lostWorker.ackTimeoutMs', options?.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS, 1, MAX_BUDGET_MS),
    probeAfterMs: checkNumber('lostWorker.probeAfterMs', options?.probeAfterMs ?? DEFAULT_PROBE_AFTER_MS, 1, MAX_BUDGET_MS),
    probeIntervalMs: checkNumber('lostWorker.probeIntervalMs', options?.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS, 1, MAX_BUDGET_MS),
    probeTimeoutMs: checkNumber('lostWorker.probeTimeoutMs', options?.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS, 1, MAX_BUDGET_MS),
  });
}
