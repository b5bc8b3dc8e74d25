/**
 * The supervisor's registry as the Prometheus exporter sees it (see metrics/fleet-metrics.ts):
 * figures from each worker's latest heartbeat, its heartbeat age, and its drains by reason.
 * Drain reasons are free text with figures in them; they are reduced to a few fixed categories
 * so that label values stay bounded.
 */
import type { WorkerMetricsInput } from '../metrics/fleet-metrics.js';
import type { WorkerRegistry } from './registry.js';

const REASON_CATEGORIES: [RegExp, string][] = [
  [/consecutive INTERNAL/, 'consecutive_faults'],
  [/fault rate/, 'fault_rate'],
  [/past their deadline/, 'overdue'],
  [/stalled/, 'stalled'],
  [/event-loop delay/, 'loop_delay'],
  [/health check/, 'health_check'],
];

/** A bounded label for a drain reason. */
export function drainReasonCategory(reason: string | null): string {
  if (reason === null) return 'unknown';
  for (const [pattern, category] of REASON_CATEGORIES) if (pattern.test(reason)) return category;
  return 'other';
}

/** One metrics entry per worker the registry knows; ejections are counted under their last reason. */
export function fleetView(registry: WorkerRegistry, now = Date.now()): WorkerMetricsInput[] {
  const out: WorkerMetricsInput[] = [];
  for (const rec of registry.records()) {
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
      drains: rec.ejections.length === 0 ? {} : { [drainReasonCategory(rec.lastDrainReason)]: rec.ejections.length },
    });
  }
  return out;
}
