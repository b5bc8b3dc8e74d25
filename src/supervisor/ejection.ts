/**
 * Ejection decisions: pure functions of the workers' health and ejection state. Who gets drained,
 * who is shut down for being ejected too often, who comes back after its ejection period, and
 * who is spared because draining it would take too much of its service away.
 */
import { ejectionPeriodMs, type HealthPolicy, type HealthVerdict } from './policy.js';
import type { WorkerStateName } from '../protocol/heartbeat.js';

/**
 * A worker's heartbeats may still say `drained` for a while after it acknowledged a resume (their
 * figures are up to one interval old): for this many of its intervals it counts as serving.
 */
export const RESUME_SETTLE_INTERVALS = 2;

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
  /** When this supervisor first saw it `draining` or `drained` (since it last served). */
  outOfServiceSince?: number | null;
  /** When it heartbeated again after being lost. */
  returnedAt?: number | null;
  /** When it acknowledged this supervisor's last `resume`. */
  resumedAt?: number | null;
  /** Its heartbeat interval in ms. */
  intervalMs?: number;
  /**
   * False for a worker the broker has not verified (see member-check.ts): it is neither counted in
   * its service's budget nor sent any command. Absent means counted.
   */
  counted?: boolean;
}

/** Why a worker is resumed, as a stable code. */
export type ResumeCode = 'ejection_over' | 'unexplained_out_of_service' | 'no_serving_worker';
/** Stable code of the reason `returned after being lost`. */
export const RETURNED_AFTER_LOST = 'returned_after_lost';

/** `code`: the stable code of the reason (of its first, worst cause when there are several). */
export type Decision =
  | { kind: 'drain' | 'shutdown'; workerId: string; service: string; reason: string; code: string; figures: Record<string, unknown>; until: number; periodMs: number; count: number }
  | { kind: 'resume'; workerId: string; service: string; reason: string; code: ResumeCode; figures: Record<string, unknown> }
  | { kind: 'withheld'; workerId: string; service: string; reason: string; code: string; figures: Record<string, unknown> }
  | { kind: 'resend'; workerId: string; service: string; reason: string; code: 'drain_resent'; figures: Record<string, unknown> };

/**
 * How many of `total` live workers may be ejected at once: `maxDrainPercent` of them, rounded
 * down but at least one when there are two or more, and never so many that none serves.
 */
export function drainBudget(total: number, maxDrainPercent: number): number {
  if (total < 2 || maxDrainPercent <= 0) return 0;
  return Math.min(total - 1, Math.max(1, Math.floor((total * maxDrainPercent) / 100)));
}

function settling(w: WorkerView, now: number): boolean {
  return w.resumedAt != null && w.intervalMs !== undefined && now - w.resumedAt < RESUME_SETTLE_INTERVALS * w.intervalMs;
}

/**
 * Out of service with no ejection known here: drained by a supervisor that has since restarted
 * or lost the lead, or by an operator. Left alone it would stay out for good.
 */
function unexplained(w: WorkerView, now: number): boolean {
  return w.ejection === null && w.state !== 'serving' && !settling(w, now);
}

/**
 * When a worker's ejection ends: the end of the ejection known here, or, for a worker out of
 * service with none known, the base period from when it was first seen out; null when it is in
 * service with no ejection. The status view reports the same figure.
 */
export function ejectionEnd(w: { ejection: { until: number } | null; outOfServiceSince?: number | null }, policy: HealthPolicy): number | null {
  if (w.ejection !== null) return w.ejection.until;
  return w.outOfServiceSince == null ? null : w.outOfServiceSince + policy.baseEjectionMs;
}

/** The end of a worker judged ejected; one not yet seen out is taken as out from `now`. */
function ejectedUntil(w: WorkerView, now: number, policy: HealthPolicy): number {
  return ejectionEnd(w, policy) ?? now + policy.baseEjectionMs;
}

/**
 * Whether `resume` may be sent. An unexplained worker only once `drained`: one that stays
 * `draining` is more likely stopping (SIGTERM), and a stopping worker refuses to resume.
 */
function resumable(w: WorkerView): boolean {
  return w.ejection !== null ? w.state !== 'serving' : w.state === 'drained';
}

/** Came back after being lost, not ejected for it yet, and still within what would be its ejection period. */
function returnedUnpunished(w: WorkerView, now: number, policy: HealthPolicy): boolean {
  return w.returnedAt != null && w.ejection === null && now - w.returnedAt < policy.baseEjectionMs;
}

/** Healthiest first: healthy standing, then the fewest reasons, then the earliest end of ejection. */
function byHealth(now: number, policy: HealthPolicy) {
  return (a: WorkerView, b: WorkerView) =>
    Number(b.standing.healthy) - Number(a.standing.healthy) ||
    a.standing.reasons.length - b.standing.reasons.length ||
    a.health.reasons.length - b.health.reasons.length ||
    ejectedUntil(a, now, policy) - ejectedUntil(b, now, policy) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
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
    if (w.lost || w.shutdownSent || w.state === 'stopped' || w.counted === false) continue;
    let list = byService.get(w.service);
    if (list === undefined) byService.set(w.service, (list = []));
    list.push(w);
  }
  const out: Decision[] = [];
  for (const [service, list] of byService) {
    const ejected = list.filter((w) => w.ejection !== null || unexplained(w, now));
    const serving = list.filter((w) => w.ejection === null && !unexplained(w, now));
    const total = ejected.length + serving.length;
    const budget = drainBudget(total, policy.maxDrainPercent);
    let used = ejected.length;
    let active = serving.length;

    const resumed = new Set<string>();
    for (const w of ejected) {
      const until = ejectedUntil(w, now, policy);
      if (now >= until && w.standing.healthy && resumable(w)) {
        const reason = w.ejection === null ? 'out of service with no ejection known to this supervisor: base ejection period over and healthy' : 'ejection period over and healthy again';
        const code = w.ejection === null ? 'unexplained_out_of_service' : 'ejection_over';
        out.push({ kind: 'resume', workerId: w.id, service, reason, code, figures: { ...w.standing.figures, ejectedUntil: until } });
        resumed.add(w.id);
        continue;
      }
      const e = w.ejection;
      if (e !== null && w.state === 'serving' && now < e.until && now - e.sentAt >= resendAfterMs) {
        out.push({ kind: 'resend', workerId: w.id, service, reason: 'ejected worker still serving: drain sent again', code: 'drain_resent', figures: { acked: e.acked } });
      }
    }

    // A sick service beats no service: with nobody left in the queue group (the others died, say),
    // the healthiest ejected worker comes back at once.
    const inQueueGroup = list.filter((w) => w.state === 'serving' || settling(w, now)).length;
    if (inQueueGroup === 0 && resumed.size === 0) {
      const best = ejected.filter(resumable).sort(byHealth(now, policy))[0];
      if (best !== undefined) {
        out.push({
          kind: 'resume',
          workerId: best.id,
          service,
          reason: `no serving worker left in ${service}: resumed before its ejection period is over`,
          code: 'no_serving_worker',
          figures: { ...best.standing.figures, ejectedUntil: ejectedUntil(best, now, policy), ejected: ejected.length },
        });
      }
    }

    // Worst first: the most consecutive faults, then the most reasons.
    const punished = (w: WorkerView) => returnedUnpunished(w, now, policy);
    const reasonsOf = (w: WorkerView) => (punished(w) ? ['returned after being lost', ...w.health.reasons] : w.health.reasons);
    const codeOf = (w: WorkerView): string => (punished(w) ? RETURNED_AFTER_LOST : w.health.codes[0] ?? 'other');
    const sick = serving
      .filter((w) => w.state === 'serving' && reasonsOf(w).length > 0)
      .sort((a, b) => Number(b.health.figures.consecutiveFaults ?? 0) - Number(a.health.figures.consecutiveFaults ?? 0) || reasonsOf(b).length - reasonsOf(a).length);
    for (const w of sick) {
      const reason = reasonsOf(w).join('; ');
      const code = codeOf(w);
      if (used >= budget || active <= 1) {
        out.push({
          kind: 'withheld',
          workerId: w.id,
          service,
          code,
          reason: active <= 1 ? `unhealthy (${reason}) but the last serving worker of ${service}` : `unhealthy (${reason}) but maxDrainPercent ${policy.maxDrainPercent} reached`,
          figures: { ...w.health.figures, serving: active, ejected: used, budget, maxDrainPercent: policy.maxDrainPercent },
        });
        continue;
      }
      used++;
      active--;
      const count = w.ejections + 1;
      const kind = count > policy.maxEjections ? 'shutdown' : 'drain';
      const periodMs = ejectionPeriodMs(count, policy);
      const until = now + periodMs;
      const why = kind === 'shutdown' ? `${reason}; ejected ${count} times within ${policy.ejectionWindowMs} ms (limit ${policy.maxEjections})` : reason;
      out.push({ kind, workerId: w.id, service, reason: why, code, until, periodMs, count, figures: { ...w.health.figures, ejection: count, ejectionMs: periodMs, serving: active, ejected: used, budget } });
    }
  }
  return out;
}
