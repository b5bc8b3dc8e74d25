/**
 * A worker's counters since start. Plain numeric fields so counting is a single increment.
 */
import { ErrorCode, isFrameworkCode, isWorkerFault } from '../protocol/errors.js';
import { MAX_FAILED_CODES, OTHER_CODES } from '../protocol/heartbeat.js';
import { LatencyWindow } from '../timing/latency-window.js';

export interface WorkerStatsSnapshot {
  received: number;
  ok: number;
  /** Failed calls by error code (business codes included). */
  failed: Record<string, number>;
  /** Requests skipped because their budget was spent on arrival. */
  expired: number;
  /** Handlers that finished after their deadline had passed. */
  overruns: number;
  /** Messages without a reply subject, dropped. */
  noReply: number;
  /** Publishes the broker refused (permissions violations): replies, acks or frames that were lost. */
  refusedPublishes: number;
  inFlight: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * A worker says at once when its streak of worker faults reaches this many (the health policy's
 * default `maxConsecutiveFaults`), and again at every doubling (10, 20, 40...): an early heartbeat,
 * so the supervisor judges it then rather than at the next interval. Doubling keeps the alerts of
 * one streak few (about 20 for a million faults) and still reaches any limit a policy sets.
 */
export const EARLY_FAULT_STREAK = 5;

/** Room in a heartbeat's `failed` map for application codes: what the framework codes and the overflow key leave. */
const MAX_APPLICATION_CODES = MAX_FAILED_CODES - Object.keys(ErrorCode).length - 1;

export class WorkerStats {
  received = 0;
  ok = 0;
  expired = 0;
  overruns = 0;
  noReply = 0;
  refusedPublishes = 0;
  /** Worker-fault failures (INTERNAL) since the last success or business rejection. */
  consecutiveFaults = 0;
  readonly failed = new Map<string, number>();
  readonly latency = new LatencyWindow();
  #applicationCodes = 0;
  #nextAlert = EARLY_FAULT_STREAK;
  #alert: (() => void) | null = null;

  succeed(): void {
    this.ok++;
    if (this.consecutiveFaults !== 0) this.resetFaults();
  }

  /** Calls `hook` when the fault streak reaches {@link EARLY_FAULT_STREAK} or a doubling of it. */
  onFaultStreak(hook: () => void): void {
    this.#alert = hook;
  }

  /** Ends the fault streak (a success, a business rejection, a resume). */
  resetFaults(): void {
    this.consecutiveFaults = 0;
    this.#nextAlert = EARLY_FAULT_STREAK;
  }

  fail(code: string): void {
    // Handlers choose their own codes: past a fixed number of distinct ones, the rest share one
    // counter, so the map (and the heartbeat that carries it) stays bounded. Framework codes always
    // keep their own count: the supervisor judges health by them.
    let key = code;
    if (!this.failed.has(code) && !isFrameworkCode(code)) {
      if (this.#applicationCodes < MAX_APPLICATION_CODES) this.#applicationCodes++;
      else key = OTHER_CODES;
    }
    this.failed.set(key, (this.failed.get(key) ?? 0) + 1);
    // Only a worker fault (the table in protocol/errors.ts: a handler's own crash) speaks against
    // the worker; a business rejection shows a handler that works. Other framework codes
    // (refusals, TIMEOUT, CANCELLED...) say nothing either way.
    if (isWorkerFault(code)) {
      if (++this.consecutiveFaults >= this.#nextAlert) {
        this.#nextAlert *= 2;
        this.#alert?.();
      }
    } else if (!isFrameworkCode(code) && this.consecutiveFaults !== 0) this.resetFaults();
  }

  snapshot(inFlight: number): WorkerStatsSnapshot {
    return {
      received: this.received,
      ok: this.ok,
      failed: Object.fromEntries(this.failed),
      expired: this.expired,
      overruns: this.overruns,
      noReply: this.noReply,
      refusedPublishes: this.refusedPublishes,
      inFlight,
      p50Ms: this.latency.quantile(0.5),
      p99Ms: this.latency.quantile(0.99),
    };
  }
}
