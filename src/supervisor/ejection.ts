/**
 * Ejection decisions: pure functions of the workers' health and ejection state. Who gets drained,
 * who is shut down for being ejected too often, who comes back after its ejection period, and
 * who is spared because draining it would take too much of its service away.
 */
import { ejectionPeriodMs, type HealthPolicy, type HealthVerdict } from './policy.js';
import type { WorkerStateName } from '../protocol/heartbeat.js';

export interface WorkerView {
  id: string;
  service: string;
  state: WorkerStateName;
  lost: boolean;
  /** Health judged on everything (for serving workers) . */
  health: HealthVerdict;
  /** Health judged on what a worker shows without calls (for ejected workers). */
  standing: HealthVerdict;
  ejection: { until: number; count: number; sentAt: number; acked: boolean } | null;
  /** Ejections within the window so far. */
  ejections: number;
  shutdownSent: boolean;
}

export type Decision =
  | { kind: 'drain' | 'shutdown'; workerId: string; service: string; reason: string; figures: Record<string, unknown>; until: number; count: number }
  | { kind: 'resume'; workerId: string; service: string; reason: string; figures: Record<string, unknown> }
  | { kind: 'withheld'; workerId: string; service: string; reason: string; figures: Record<string, unknown> }
  | { kind: 'resend'; workerId: string; service: string; reason: string; figures: Record<string, unknown> };

/**
 * How many of `total` live workers may be ejected at once: `maxDrainPercent` of them, rounded
 * down but at least one when there are two or more, and never so many that none serves.
 */
export function drainBudget(total: number, maxDrainPercent: number): number {
  if (total < 2 || maxDrainPercent <= 0) return 0;
  return Math.min(total - 1, Math.max(1, Math.floor((total * maxDrainPercent) / 100)));
}

/**
 * Decides what to do about every worker, service by service.
 *
 * @example
 * ```ts
 * for (const d of decide(views, Date.now(), policy, 1_000)) if (d.kind === 'drain') send(d.workerId, 'drain');
 * ```
 */
export function decide(workers: WorkerView[], now: number, policy: HealthPolicy, resendAfterMs: number): Decision[] {
  const byService = new Map<string, WorkerView[]>();
  for (const w of workers) {
    if (w.lost || w.shutdownSent || w.state === 'stopped') continue;
    let list = byService.get(w.service);
    if (list === undefined) byService.set(w.service, (list = []));
    list.push(w);
  }
  const out: Decision[] = [];
  for (const [service, list] of byService) {
    const ejected = list.filter((w) => w.ejection !== null);
    const serving = list.filter((w) => w.ejection === null && w.state === 'serving');
    const total = ejected.length + serving.length;
    const budget = drainBudget(total, policy.maxDrainPercent);
    let used = ejected.length;
    let active = serving.length;

    for (const w of ejected) {
      const e = w.ejection!;
      if (now >= e.until && w.standing.healthy && w.state !== 'serving') {
        out.push({ kind: 'resume', workerId: w.id, service, reason: `ejection period over and healthy again`, figures: { ...w.standing.figures, ejectedUntil: e.until } });
        continue;
      }
      if (w.state === 'serving' && now < e.until && now - e.sentAt >= resendAfterMs) {
        out.push({ kind: 'resend', workerId: w.id, service, reason: 'ejected worker still serving: drain sent again', figures: { acked: e.acked } });
      }
    }

    // Worst first: the most consecutive faults, then the most reasons.
    const sick = serving
      .filter((w) => !w.health.healthy)
      .sort((a, b) => Number(b.health.figures.consecutiveFaults ?? 0) - Number(a.health.figures.consecutiveFaults ?? 0) || b.health.reasons.length - a.health.reasons.length);
    for (const w of sick) {
      const reason = w.health.reasons.join('; ');
      if (used >= budget || active <= 1) {
        out.push({
          kind: 'withheld',
          workerId: w.id,
          service,
          reason: active <= 1 ? `unhealthy (${reason}) but the last serving worker of ${service}` : `unhealthy (${reason}) but maxDrainPercent ${policy.maxDrainPercent} reached`,
          figures: { ...w.health.figures, serving: active, ejected: used, budget, maxDrainPercent: policy.maxDrainPercent },
        });
        continue;
      }
      used++;
      active--;
      const count = w.ejections + 1;
      const kind = count > policy.maxEjections ? 'shutdown' : 'drain';
      const until = now + ejectionPeriodMs(count, policy);
      const why = kind === 'shutdown' ? `${reason}; ejected ${count} times within ${policy.ejectionWindowMs} ms (limit ${policy.maxEjections})` : reason;
      out.push({ kind, workerId: w.id, service, reason: why, until, count, figures: { ...w.health.figures, ejection: count, ejectionMs: until - now, serving: active, ejected: used, budget } });
    }
  }
  return out;
}
