/**
 * Prometheus metrics of a fleet of workers, computed at scrape time from whatever view of the
 * fleet the caller keeps (the supervisor's heartbeat registry): nothing is counted on the call
 * path. Each scrape reads the view once; workers that disappear from it disappear from the output.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { promClient } from '../deps/lazy.js';
import { checkNumberOption } from '../options/resolve.js';
import { DEFAULT_METRICS_HOST, SUPERVISOR_OPTIONS } from '../options/table.js';

/** One worker as the metrics see it: the figures its heartbeats carry, plus the supervisor's view. */
export interface WorkerMetricsInput {
  service: string;
  id: string;
  /** serving, draining, drained, stopped; a worker declared lost reports `lost`. */
  state: string;
  inFlight: number;
  /** Successful calls since the worker started. */
  ok: number;
  /** Failed calls by code since the worker started. */
  failed: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  /** Time since its last heartbeat, in ms. */
  heartbeatAgeMs: number;
  /** Drains the supervisor commanded, by reason. */
  drains: Record<string, number>;
}

export const WORKER_STATES_FOR_METRICS = ['serving', 'draining', 'drained', 'stopped', 'lost'] as const;
/** Label values are bounded: more failure codes or drain reasons than this per worker are summed as `other`. */
export const MAX_LABEL_VALUES = 32;

function bounded(map: Record<string, number>): [string, number][] {
  const entries = Object.entries(map);
  if (entries.length <= MAX_LABEL_VALUES) return entries;
  const kept = entries.slice(0, MAX_LABEL_VALUES - 1);
  const rest = entries.slice(MAX_LABEL_VALUES - 1).reduce((sum, [, n]) => sum + n, 0);
  return [...kept, ['other', rest]];
}

/**
 * A Prometheus registry whose metrics are read from `view()` at each scrape.
 *
 * @example
 * ```ts
 * const metrics = new FleetMetrics(() => registry.records().map(toMetricsInput));
 * const server = await metrics.listen(9464);
 * ```
 */
export class FleetMetrics {
  readonly registry: Registry = new (promClient().Registry)();
  readonly #view: () => Iterable<WorkerMetricsInput>;
  #server: Server | null = null;

  constructor(view: () => Iterable<WorkerMetricsInput>) {
    this.#view = view;
    const { Counter, Gauge } = promClient();
    const labels = ['service', 'worker'] as const;
    // prom-client calls a metric's collect() before reading it; the first metric registered reads
    // the view once for all of them.
    const calls = new Counter({
      name: 'natsrpc_calls_total',
      help: 'Calls served, by outcome code (OK or the error code).',
      labelNames: [...labels, 'code'],
      registers: [this.registry],
      collect: () => read(),
    });
    const latency = new Gauge({ name: 'natsrpc_call_duration_ms', help: 'Handler duration quantiles over the worker\'s recent calls, in ms.', labelNames: [...labels, 'quantile'], registers: [this.registry] });
    const inFlight = new Gauge({ name: 'natsrpc_in_flight', help: 'Handlers running now.', labelNames: labels, registers: [this.registry] });
    const state = new Gauge({ name: 'natsrpc_worker_state', help: '1 for the state the worker is in, 0 for the others.', labelNames: [...labels, 'state'], registers: [this.registry] });
    const drains = new Counter({ name: 'natsrpc_drains_total', help: 'Drains commanded by the supervisor, by reason.', labelNames: [...labels, 'reason'], registers: [this.registry] });
    const age = new Gauge({ name: 'natsrpc_heartbeat_age_seconds', help: 'Time since the worker\'s last heartbeat.', labelNames: labels, registers: [this.registry] });
    const workers = new Gauge({ name: 'natsrpc_workers', help: 'Workers known, by service and state.', labelNames: ['service', 'state'], registers: [this.registry] });

    const read = () => {
      const snapshot = [...this.#view()];
      for (const m of [calls, latency, inFlight, state, drains, age, workers]) m.reset();
      const perService = new Map<string, Map<string, number>>();
      for (const w of snapshot) {
        const l = { service: w.service, worker: w.id };
        calls.inc({ ...l, code: 'OK' }, w.ok);
        for (const [code, n] of bounded(w.failed)) calls.inc({ ...l, code }, n);
        latency.set({ ...l, quantile: '0.5' }, w.p50Ms);
        latency.set({ ...l, quantile: '0.99' }, w.p99Ms);
        inFlight.set(l, w.inFlight);
        for (const s of WORKER_STATES_FOR_METRICS) state.set({ ...l, state: s }, s === w.state ? 1 : 0);
        for (const [reason, n] of bounded(w.drains)) drains.inc({ ...l, reason }, n);
        age.set(l, w.heartbeatAgeMs / 1_000);
        const byState = perService.get(w.service) ?? new Map<string, number>();
        byState.set(w.state, (byState.get(w.state) ?? 0) + 1);
        perService.set(w.service, byState);
      }
      for (const [service, byState] of perService) for (const [s, n] of byState) workers.set({ service, state: s }, n);
    };
  }

  /** The metrics in the Prometheus text format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Serves `GET /metrics` on `port` (0 for a free one) and resolves with the port bound. */
  listen(port: number, host = DEFAULT_METRICS_HOST): Promise<number> {
    checkNumberOption(SUPERVISOR_OPTIONS.metricsPort, port);
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
        res.writeHead(404).end();
        return;
      }
      this.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  /** Stops serving. */
  close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
