/**
 * The supervisor's view of the fleet, built from heartbeats alone: one record per worker with its
 * latest heartbeat, call figures over the rate window, liveness and ejection state. Changes of
 * liveness go to one hook, so logging, events and metrics attach in one place.
 */
import type { WorkerHeartbeat } from '../protocol/heartbeat.js';
import { drainReasonCategory } from './drain-reasons.js';
import { isRefusal, isWorkerFault } from '../protocol/errors.js';
import { type CallFigures, type HealthPolicy, type HealthVerdict } from './policy.js';

/** Workers tracked at most; heartbeats of further workers are ignored. */
export const MAX_WORKERS = 10_000;
/** Samples kept per worker for the rate window, at most. */
const MAX_SAMPLES = 256;

export interface Ejection {
  since: number;
  until: number;
  /** The nth ejection of this worker within the window. */
  count: number;
  reason: string;
  /** When the last drain command went out, and whether the worker acknowledged it. */
  sentAt: number;
  acked: boolean;
}

interface Sample {
  at: number;
  calls: number;
  faults: number;
  received: number;
}

export interface WorkerRecord {
  readonly id: string;
  readonly service: string;
  hb: WorkerHeartbeat;
  firstSeen: number;
  /** Local receipt time of the latest heartbeat. */
  lastSeen: number;
  lost: boolean;
  samples: Sample[];
  /** Calls per second between the last two heartbeats. */
  callsPerSec: number;
  ejection: Ejection | null;
  /** Times of this worker's ejections (within the window). */
  ejections: number[];
  lastDrainReason: string | null;
  /** Drains and shutdowns this supervisor commanded, by reason category, since it first saw the worker: never decreases. */
  drainsByReason: Record<string, number>;
  health: HealthVerdict | null;
  /** A shutdown was sent; the worker is on its way out. */
  shutdownSent: boolean;
  /** A withheld drain was logged for the current unhealthy streak. */
  withheldLogged: boolean;
  /** When it was first seen `draining` or `drained` since it last served. */
  outOfServiceSince: number | null;
  /** When it heartbeated again after being lost (cleared once it is ejected for it). */
  returnedAt: number | null;
  /** When it acknowledged this supervisor's last `resume`. */
  resumedAt: number | null;
}

export type RegistryEvent = 'joined' | 'lost' | 'returned' | 'forgotten';
export type RegistryHook = (event: RegistryEvent, record: WorkerRecord, figures: Record<string, number>) => void;

function totals(hb: WorkerHeartbeat): { calls: number; faults: number } {
  let calls = hb.ok;
  let faults = hb.overruns;
  for (const code in hb.failed) {
    const n = hb.failed[code]!;
    if (isRefusal(code)) continue;
    calls += n;
    if (isWorkerFault(code)) faults += n;
  }
  return { calls, faults };
}

/** Keeps `outOfServiceSince` in step with the latest heartbeat. */
function trackService(rec: WorkerRecord, now: number): void {
  const out = rec.hb.state === 'draining' || rec.hb.state === 'drained';
  if (!out) rec.outOfServiceSince = null;
  else rec.outOfServiceSince ??= now;
}

export class WorkerRegistry {
  readonly #workers = new Map<string, WorkerRecord>();
  readonly #hooks: RegistryHook[] = [];
  readonly #policy: HealthPolicy;
  #refused = 0;

  constructor(policy: HealthPolicy) {
    this.#policy = policy;
  }

  /** Adds a listener for liveness changes (joined, lost, returned, forgotten). */
  onEvent(hook: RegistryHook): void {
    this.#hooks.push(hook);
  }

  get size(): number {
    return this.#workers.size;
  }

  /** Heartbeats of new workers ignored because the registry was full. */
  get refused(): number {
    return this.#refused;
  }

  get(id: string): WorkerRecord | undefined {
    return this.#workers.get(id);
  }

  records(): IterableIterator<WorkerRecord> {
    return this.#workers.values();
  }

  /** Records a (validated) heartbeat received at `now`. */
  ingest(hb: WorkerHeartbeat, now: number): void {
    let rec = this.#workers.get(hb.id);
    const { calls, faults } = totals(hb);
    if (rec === undefined) {
      if (this.#workers.size >= MAX_WORKERS) {
        this.#refused++;
        return;
      }
      rec = {
        id: hb.id,
        service: hb.service,
        hb,
        firstSeen: now,
        lastSeen: now,
        lost: false,
        samples: [{ at: now, calls, faults, received: hb.received }],
        callsPerSec: 0,
        ejection: null,
        ejections: [],
        lastDrainReason: null,
        drainsByReason: {},
        health: null,
        shutdownSent: false,
        withheldLogged: false,
        outOfServiceSince: null,
        returnedAt: null,
        resumedAt: null,
      };
      trackService(rec, now);
      this.#workers.set(hb.id, rec);
      this.#emit('joined', rec, {});
      return;
    }
    if (hb.service !== rec.service) return; // an id cannot change service: a forged or confused sender
    if (hb.startedAt === rec.hb.startedAt && hb.seq <= rec.hb.seq) return; // late or duplicate
    const prev = rec.samples[rec.samples.length - 1]!;
    const dt = (now - prev.at) / 1_000;
    rec.callsPerSec = dt > 0 ? Math.max(0, hb.received - prev.received) / dt : 0;
    rec.hb = hb;
    rec.lastSeen = now;
    trackService(rec, now);
    rec.samples.push({ at: now, calls, faults, received: hb.received });
    const horizon = now - this.#policy.rateWindowMs;
    // Keep one sample at or before the horizon as the window's base.
    while (rec.samples.length > 2 && (rec.samples[1]!.at <= horizon || rec.samples.length > MAX_SAMPLES)) rec.samples.shift();
    if (rec.lost) {
      rec.lost = false;
      rec.returnedAt = now;
      this.#emit('returned', rec, { silentMs: now - prev.at });
    }
  }

  /** Records an ejection of `rec` at `now`; `commanded`: by this supervisor (counted), not followed from another. */
  recordEjection(rec: WorkerRecord, now: number, reason: string, commanded: boolean): void {
    rec.ejections.push(now);
    rec.lastDrainReason = reason;
    if (commanded) {
      const category = drainReasonCategory(reason);
      rec.drainsByReason[category] = (rec.drainsByReason[category] ?? 0) + 1;
    }
    this.resetWindow(rec);
  }

  /** Calls and faults of one worker over the rate window. */
  window(rec: WorkerRecord): CallFigures {
    const first = rec.samples[0]!;
    const last = rec.samples[rec.samples.length - 1]!;
    return { calls: Math.max(0, last.calls - first.calls), faults: Math.max(0, last.faults - first.faults) };
  }

  /** Forgets a worker's call history (after it was ejected or resumed), keeping the latest sample. */
  resetWindow(rec: WorkerRecord): void {
    rec.samples = rec.samples.slice(-1);
  }

  /**
   * Marks silent workers lost and forgets long-silent ones; returns the workers newly lost.
   * Silence is counted from `heardSince` at the earliest: the supervisor could not hear before.
   */
  sweep(now: number, heardSince = -Infinity): WorkerRecord[] {
    const lost: WorkerRecord[] = [];
    for (const rec of this.#workers.values()) {
      const silentMs = now - Math.max(rec.lastSeen, heardSince);
      const gone = rec.hb.final === true || rec.hb.state === 'stopped';
      if (!rec.lost && !gone && silentMs > rec.hb.intervalMs * this.#policy.lostAfterIntervals) {
        rec.lost = true;
        lost.push(rec);
        this.#emit('lost', rec, { silentMs, intervalMs: rec.hb.intervalMs, lostAfterIntervals: this.#policy.lostAfterIntervals });
      }
      if ((rec.lost || gone) && silentMs > this.#policy.forgetAfterMs) {
        this.#workers.delete(rec.id);
        this.#emit('forgotten', rec, { silentMs });
      }
      const windowStart = now - this.#policy.ejectionWindowMs;
      while (rec.ejections.length > 0 && rec.ejections[0]! < windowStart) rec.ejections.shift();
    }
    return lost;
  }

  #emit(event: RegistryEvent, rec: WorkerRecord, figures: Record<string, number>): void {
    for (const hook of this.#hooks) hook(event, rec, figures);
  }
}
