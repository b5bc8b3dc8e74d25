/**
 * A worker's counters since start. Plain numeric fields so counting is a single increment.
 */
import { isFrameworkCode } from '../protocol/errors.js';
import { LatencyWindow } from './latency-window.js';

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
  inFlight: number;
  p50Ms: number;
  p99Ms: number;
}

export class WorkerStats {
  received = 0;
  ok = 0;
  expired = 0;
  overruns = 0;
  noReply = 0;
  /** Worker-fault failures (INTERNAL) since the last success or business rejection. */
  consecutiveFaults = 0;
  readonly failed = new Map<string, number>();
  readonly latency = new LatencyWindow();

  succeed(): void {
    this.ok++;
    this.consecutiveFaults = 0;
  }

  fail(code: string): void {
    this.failed.set(code, (this.failed.get(code) ?? 0) + 1);
    // Only a handler's own crash speaks against the worker; a business rejection shows a handler
    // that works. Refusals (BAD_REQUEST, OVERLOADED...) say nothing either way.
    if (code === 'INTERNAL') this.consecutiveFaults++;
    else if (!isFrameworkCode(code)) this.consecutiveFaults = 0;
  }

  snapshot(inFlight: number): WorkerStatsSnapshot {
    return {
      received: this.received,
      ok: this.ok,
      failed: Object.fromEntries(this.failed),
      expired: this.expired,
      overruns: this.overruns,
      noReply: this.noReply,
      inFlight,
      p50Ms: this.latency.quantile(0.5),
      p99Ms: this.latency.quantile(0.99),
    };
  }
}
