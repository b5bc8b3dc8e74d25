/**
 * Collects what a worker heartbeat says about the worker, on the main thread: counters, latency,
 * event-loop delay, memory and the user health check. The watchdog thread stamps and publishes it.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { PROTOCOL_VERSION } from '../protocol/envelope.js';
import type { WorkerHeartbeat } from '../protocol/heartbeat.js';
import type { RpcWorker } from './worker.js';

/** A heartbeat as the main thread knows it; the publisher adds `seq`, `ts` and `stalledMs`. */
export type HeartbeatBody = Omit<WorkerHeartbeat, 'seq' | 'ts' | 'stalledMs'>;

const MAX_HEALTH_ERROR_LENGTH = 200;

export class HeartbeatSource {
  readonly #worker: RpcWorker;
  readonly #intervalMs: number;
  readonly #startedAt = Date.now();
  readonly #loopDelay: IntervalHistogram;
  #healthy: boolean | null = null;
  #healthError: string | undefined;
  #checking = false;

  constructor(worker: RpcWorker, intervalMs: number) {
    this.#worker = worker;
    this.#intervalMs = intervalMs;
    this.#loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.#loopDelay.enable();
    if (worker.definition.healthCheck !== undefined) this.#healthy = true;
  }

  /**
   * The current heartbeat body. A scheduled one (`early` false) also closes the event-loop delay
   * window and starts the next health check, whose result the next beat carries; an early one
   * leaves both alone.
   */
  collect(early = false): HeartbeatBody {
    const w = this.#worker;
    const s = w.snapshot();
    const info = w.connection.info;
    const loopDelayP99Ms = this.#loopDelay.count > 0 ? this.#loopDelay.percentile(99) / 1e6 : 0;
    if (!early) {
      this.#loopDelay.reset();
      this.#runHealthCheck();
    }
    const body: HeartbeatBody = {
      v: PROTOCOL_VERSION,
      id: w.id,
      service: w.service,
      version: w.version,
      host: w.host,
      pid: process.pid,
      serverId: info?.server_id ?? '',
      clientId: info?.client_id ?? 0,
      state: w.state,
      startedAt: this.#startedAt,
      intervalMs: this.#intervalMs,
      inFlight: s.inFlight,
      concurrency: w.concurrency,
      received: s.received,
      ok: s.ok,
      failed: s.failed,
      expired: s.expired,
      overruns: s.overruns,
      consecutiveFaults: w.stats.consecutiveFaults,
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      loopDelayP99Ms,
      rssBytes: process.memoryUsage.rss(),
      overdue: w.overdue,
      healthy: this.#healthy,
    };
    if (this.#healthError !== undefined) body.healthError = this.#healthError;
    return body;
  }

  close(): void {
    this.#loopDelay.disable();
  }

  /** Runs the user check in the background, bounded by one interval; a hang counts as a failure. */
  #runHealthCheck(): void {
    const check = this.#worker.definition.healthCheck;
    if (check === undefined || this.#checking) return;
    this.#checking = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`health check took longer than ${this.#intervalMs} ms`)), this.#intervalMs);
      timer.unref();
    });
    Promise.race([Promise.resolve().then(check), timeout]).then(
      (ok) => this.#setHealth(ok === true, ok === true ? undefined : 'health check returned false'),
      (err: unknown) => this.#setHealth(false, String((err as Error)?.message ?? err).slice(0, MAX_HEALTH_ERROR_LENGTH)),
    ).finally(() => {
      clearTimeout(timer);
      this.#checking = false;
    });
  }

  #setHealth(ok: boolean, error: string | undefined): void {
    this.#healthy = ok;
    this.#healthError = error;
  }
}
