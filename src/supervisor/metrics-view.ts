/**
 * The supervisor's registry as the Prometheus exporter sees it (see metrics/fleet-metrics.ts):
 * figures from each worker's latest heartbeat, its heartbeat age, and the drains this supervisor
 * commanded, by reason code (see drain-reasons.ts).
 */
import type { WorkerMetricsInput } from '../metrics/fleet-metrics.js';
import type { WorkerRegistry } from './registry.js';
import { drainReasonLabel } from './drain-reasons.js';

/** Drain counts by metric label: reason codes not known here are counted together as `other`. */
function drainLabels(byCode: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const code in byCode) {
    const label = drainReasonLabel(code);
    out[label] = (out[label] ?? 0) + byCode[code]!;
  }
  return out;
}

/**
 * Workers exported at most: each is a few series per label (state, failure code...), so a flood
 * of made-up ids must not become a flood of series. Members the registry counts go first.
 */
export const MAX_METRIC_WORKERS = 1_000;

/** One metrics entry per worker the registry knows, at most {@link MAX_METRIC_WORKERS}. */
export function fleetView(registry: WorkerRegistry, now = Date.now()): WorkerMetricsInput[] {
  const out: WorkerMetricsInput[] = [];
  const counted = [...registry.records()].sort((a, b) => Number(registry.counts(b)) - Number(registry.counts(a)));
  for (const rec of counted.slice(0, MAX_METRIC_WORKERS)) {
    const hb = rec.hb;
    out.push({
      service: rec.service,
      id: rec.id,
      state: rec.lost ? 'lost' : hb.state,
      inFlight: hb.inFlight,
      ok: hb.ok,
      failed: hb.failed,
      p50Ms: hb.p50Ms,
      p99Ms: hb.p99Ms,
      heartbeatAgeMs: Math.max(0, now - rec.lastSeen),
      drains: drainLabels(rec.drainsByReason),
    });
  }
  return out;
}
