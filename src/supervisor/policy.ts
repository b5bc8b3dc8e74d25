/**
 * The health policy and its evaluation: pure functions of heartbeats and call figures, no I/O, in
 * the spirit of Envoy's outlier detection. Business rejections and refusals (BAD_REQUEST,
 * METHOD_NOT_FOUND, OVERLOADED, DRAINING) never count against a worker: only its own crashes
 * (INTERNAL), handlers that overrun their deadline, a stalled or slow event loop and a failing
 * user health check do.
 */
import type { WorkerHeartbeat } from '../protocol/heartbeat.js';
import { processEnv, type Env } from '../options/env.js';
import { resolveNumber } from '../options/resolve.js';
import { HEALTH_POLICY_OPTIONS } from '../options/table.js';

export interface HealthPolicy {
  /** A worker is `lost` after missing this many of its own heartbeat intervals. */
  lostAfterIntervals: number;
  /** A lost or stopped worker is forgotten after this long without a heartbeat, in ms. */
  forgetAfterMs: number;
  /** Consecutive INTERNAL failures that make a worker unhealthy. */
  maxConsecutiveFaults: number;
  /** Fault-rate outlier: the worker's rate is at least this... */
  minFaultRate: number;
  /** ...and at least this much above the rate of its service's other workers. */
  faultRateMargin: number;
  /** Calls a worker must have handled in the window before its rate is judged. */
  minRequestVolume: number;
  /** The window of the fault rate, in ms. */
  rateWindowMs: number;
  /** Event-loop delay p99 above this is unhealthy, in ms. */
  maxLoopDelayMs: number;
  /** A main loop without progress for longer than this is unhealthy, in ms. */
  maxStalledMs: number;
  /** More handlers than this running past their deadline is unhealthy. */
  maxOverdue: number;
  /** First ejection period in ms; the nth ejection in the window lasts n times as long. */
  baseEjectionMs: number;
  /** Cap of the ejection period, in ms. */
  maxEjectionMs: number;
  /** Never drain more than this percentage of a service's workers (and never the last serving one). */
  maxDrainPercent: number;
  /** A worker ejected more than this many times within `ejectionWindowMs` is shut down instead. */
  maxEjections: number;
  ejectionWindowMs: number;
}

/** The defaults, from the options table (options/table.ts). */
export const DEFAULT_HEALTH_POLICY: Readonly<HealthPolicy> = Object.freeze(
  Object.fromEntries(Object.entries(HEALTH_POLICY_OPTIONS).map(([key, spec]) => [key, spec.default])) as unknown as HealthPolicy,
);

/**
 * Fills each field from `partial`, else its environment variable, else its default, and validates
 * it, naming the first bad one.
 */
export function resolvePolicy(partial: Partial<HealthPolicy> = {}, env: Env = processEnv()): HealthPolicy {
  for (const key of Object.keys(partial)) {
    if (!(key in HEALTH_POLICY_OPTIONS)) throw new TypeError(`unknown health policy field ${JSON.stringify(key)}`);
  }
  const out = {} as HealthPolicy;
  for (const [key, spec] of Object.entries(HEALTH_POLICY_OPTIONS) as [keyof HealthPolicy, (typeof HEALTH_POLICY_OPTIONS)[keyof HealthPolicy]][]) {
    out[key] = resolveNumber(spec, partial[key], env);
  }
  if (out.maxEjectionMs < out.baseEjectionMs) throw new TypeError(`health policy maxEjectionMs (${out.maxEjectionMs}) is below baseEjectionMs (${out.baseEjectionMs})`);
  return out;
}

/** Calls and worker faults over the rate window. */
export interface CallFigures {
  calls: number;
  faults: number;
}

export interface HealthInput {
  hb: WorkerHeartbeat;
  /** This worker's calls over the rate window. */
  own: CallFigures;
  /** The other (live, serving) workers of the same service together. */
  peers: CallFigures;
}

/** Stable codes of the reasons a worker is unhealthy, worst first (the order `evaluateHealth` checks them). */
export const HEALTH_REASON_CODES = ['consecutive_faults', 'fault_rate', 'overdue', 'stalled', 'loop_delay', 'health_check'] as const;
export type HealthReasonCode = (typeof HEALTH_REASON_CODES)[number];

export interface HealthVerdict {
  healthy: boolean;
  /** Why not, in words an operator reads in a log line; empty when healthy. */
  reasons: string[];
  /** The stable code of each reason, in the same order: what programs and metric labels read. */
  codes: HealthReasonCode[];
  /** The figures the verdict rests on. */
  figures: Record<string, number | boolean | null>;
}

const round = (x: number) => Math.round(x * 1_000) / 1_000;

/**
 * Judges one worker. With `standingOnly`, judges only what a worker shows without serving calls
 * (loop, overdue handlers, health check): that is what decides whether an ejected worker may return.
 *
 * @example
 * ```ts
 * const v = evaluateHealth({ hb, own: { calls: 40, faults: 40 }, peers: { calls: 120, faults: 0 } }, resolvePolicy());
 * // v.healthy === false, v.reasons: ['40 consecutive INTERNAL failures (limit 5)', ...]
 * ```
 */
export function evaluateHealth(input: HealthInput, policy: HealthPolicy, standingOnly = false): HealthVerdict {
  const { hb, own, peers } = input;
  const reasons: string[] = [];
  const codes: HealthReasonCode[] = [];
  const because = (code: HealthReasonCode, text: string) => {
    codes.push(code);
    reasons.push(text);
  };
  const rate = own.calls > 0 ? own.faults / own.calls : 0;
  const peerRate = peers.calls > 0 ? peers.faults / peers.calls : 0;
  const figures: HealthVerdict['figures'] = {
    consecutiveFaults: hb.consecutiveFaults,
    faultRate: round(rate),
    peerFaultRate: round(peerRate),
    calls: own.calls,
    loopDelayP99Ms: round(hb.loopDelayP99Ms),
    stalledMs: hb.stalledMs,
    overdue: hb.overdue,
    healthCheck: hb.healthy,
  };
  if (!standingOnly) {
    if (hb.consecutiveFaults >= policy.maxConsecutiveFaults) {
      because('consecutive_faults', `${hb.consecutiveFaults} consecutive INTERNAL failures (limit ${policy.maxConsecutiveFaults})`);
    }
    if (own.calls >= policy.minRequestVolume && peers.calls >= policy.minRequestVolume && rate >= policy.minFaultRate && rate - peerRate >= policy.faultRateMargin) {
      because('fault_rate', `fault rate ${round(rate)} over ${own.calls} calls against ${round(peerRate)} for the other workers`);
    }
  }
  if (hb.overdue > policy.maxOverdue) because('overdue', `${hb.overdue} handlers running past their deadline (limit ${policy.maxOverdue})`);
  if (hb.stalledMs > policy.maxStalledMs) because('stalled', `main loop stalled for ${hb.stalledMs} ms (limit ${policy.maxStalledMs})`);
  if (hb.loopDelayP99Ms > policy.maxLoopDelayMs) because('loop_delay', `event-loop delay p99 ${round(hb.loopDelayP99Ms)} ms (limit ${policy.maxLoopDelayMs})`);
  if (hb.healthy === false) because('health_check', `health check failing${hb.healthError ? `: ${hb.healthError}` : ''}`);
  return { healthy: reasons.length === 0, reasons, codes, figures };
}


/** The ejection period of the `n`th ejection (1-based) within the window. */
export function ejectionPeriodMs(n: number, policy: HealthPolicy): number {
  return Math.min(policy.maxEjectionMs, policy.baseEjectionMs * Math.max(1, n));
}
