/**
 * From registry records to what the ejection policy judges: each worker's health against its
 * service's other serving workers, and its ejection state. Records the verdicts and expired
 * ejections through the registry's transitions on the way; no I/O.
 */
import type { WorkerView } from './ejection.js';
import { evaluateHealth, type CallFigures, type HealthPolicy } from './policy.js';
import type { WorkerRegistry, WorkerRecord } from './registry.js';

/**
 * One view per record (of `service` only, when given). `busy` holds the workers with a command in flight, whose ejection state
 * must not be touched until its ack.
 */
export function buildViews(registry: WorkerRegistry, now: number, policy: HealthPolicy, busy: ReadonlySet<string>, service?: string): WorkerView[] {
  const perService = new Map<string, CallFigures>();
  const windows = new Map<WorkerRecord, CallFigures>();
  for (const rec of registry.records()) {
    if (rec.lost || rec.hb.state !== 'serving' || !registry.counts(rec) || (service !== undefined && rec.service !== service)) continue;
    const w = registry.window(rec);
    windows.set(rec, w);
    const t = perService.get(rec.service) ?? { calls: 0, faults: 0 };
    perService.set(rec.service, { calls: t.calls + w.calls, faults: t.faults + w.faults });
  }
  const views: WorkerView[] = [];
  for (const rec of registry.records()) {
    if (service !== undefined && rec.service !== service) continue;
    // Back in service after its period without our ack (a resume that outlived its timeout,
    // or an operator's): the ejection is over.
    if (rec.ejection !== null && rec.hb.state === 'serving' && now >= rec.ejection.until && !busy.has(rec.id)) registry.ejectionExpired(rec);
    const own = windows.get(rec) ?? { calls: 0, faults: 0 };
    const total = perService.get(rec.service) ?? { calls: 0, faults: 0 };
    const peers = { calls: total.calls - own.calls, faults: total.faults - own.faults };
    const health = evaluateHealth({ hb: rec.hb, own, peers }, policy);
    registry.judged(rec, health);
    // Out of the queue group, a worker gets no calls to be judged on.
    const out = rec.ejection !== null || rec.hb.state !== 'serving';
    const standing = out ? evaluateHealth({ hb: rec.hb, own, peers }, policy, true) : health;
    views.push({
      id: rec.id,
      service: rec.service,
      state: rec.hb.state,
      lost: rec.lost,
      health,
      standing,
      ejection: rec.ejection,
      ejections: rec.ejections.length,
      shutdownSent: rec.shutdownSent,
      outOfServiceSince: rec.outOfServiceSince,
      returnedAt: rec.returnedAt,
      resumedAt: rec.resumedAt,
      intervalMs: rec.hb.intervalMs,
      counted: registry.counts(rec),
    });
  }
  return views;
}
