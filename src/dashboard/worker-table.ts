/**
 * Every worker the dashboard knows of: figures from its own heartbeats (rates are computed between
 * consecutive heartbeats), verdicts from the leading supervisor's status, and small histories.
 * Bounded in workers, in codes per worker, and in history length.
 */
import type { WorkerHeartbeat } from '../protocol/heartbeat.js';
import type { WorkerStatus } from '../supervisor/status.js';
import { History, round } from './history.js';
import type { WorkerHistory, WorkerState, WorkerView } from './view.js';

/** A worker silent for this many of its heartbeat intervals is shown as lost (the supervisor's rule too). */
export const LOST_AFTER_INTERVALS = 3;
/** Lost or stopped workers stay listed this long, then are forgotten. */
export const FORGET_AFTER_MS = 5 * 60_000;
/** Samples kept per worker history (one per sample period). */
export const WORKER_HISTORY_SAMPLES = 60;

/** Counters of one heartbeat, kept to compute rates over at least one heartbeat interval. */
interface Counters {
  ts: number;
  finished: number;
  failed: Record<string, number>;
}
/** Counter samples kept per worker: early heartbeats (on a state change or a fault streak) come in bursts. */
const MAX_COUNTER_SAMPLES = 16;

interface Entry {
  id: string;
  service: string;
  hb: WorkerHeartbeat | null;
  counters: Counters[];
  /** Local receipt time of the last heartbeat (or of the status that listed it). */
  seenAt: number;
  intervalMs: number;
  callsPerSec: number;
  errorsPerSec: Record<string, number>;
  status: WorkerStatus | null;
  drainEventReason: string | null;
  history: { callsPerSec: History; p99Ms: History; loopDelayMs: History; rssMb: History };
}

function finished(hb: WorkerHeartbeat): number {
  let n = hb.ok;
  for (const code in hb.failed) n += hb.failed[code]!;
  return n;
}

export class WorkerTable {
  readonly #entries = new Map<string, Entry>();
  readonly #maxWorkers: number;
  #dropped = 0;

  constructor(maxWorkers: number) {
    this.#maxWorkers = maxWorkers;
  }

  get dropped(): number {
    return this.#dropped;
  }

  #entry(id: string, service: string, now: number): Entry | undefined {
    let e = this.#entries.get(id);
    if (e !== undefined) return e;
    if (this.#entries.size >= this.#maxWorkers) {
      this.#dropped++;
      return undefined;
    }
    const h = () => new History(WORKER_HISTORY_SAMPLES);
    e = { id, service, hb: null, counters: [], seenAt: now, intervalMs: 1_000, callsPerSec: 0, errorsPerSec: {}, status: null, drainEventReason: null, history: { callsPerSec: h(), p99Ms: h(), loopDelayMs: h(), rssMb: h() } };
    this.#entries.set(id, e);
    return e;
  }

  heartbeat(hb: WorkerHeartbeat, now: number): void {
    const e = this.#entry(hb.id, hb.service, now);
    if (e === undefined) return;
    const prev = e.hb;
    if (prev !== null && hb.seq <= prev.seq && hb.startedAt === prev.startedAt) return; // late or replayed
    if (prev !== null && hb.startedAt !== prev.startedAt) e.counters = []; // restarted: counters began again
    const sample: Counters = { ts: hb.ts, finished: finished(hb), failed: hb.failed };
    // Rates over at least one interval: a burst of early heartbeats (a worker drained right after
    // its faults) must not hide the faults between two of them.
    let base = 0;
    while (base + 1 < e.counters.length && e.counters[base + 1]!.ts <= hb.ts - hb.intervalMs) base++;
    e.counters.splice(0, base);
    const from = e.counters[0];
    if (from !== undefined && hb.ts > from.ts) {
      const dt = (hb.ts - from.ts) / 1_000;
      e.callsPerSec = Math.max(0, (sample.finished - from.finished) / dt);
      const rates: Record<string, number> = {};
      for (const code in hb.failed) {
        const d = hb.failed[code]! - (from.failed[code] ?? 0);
        if (d > 0) rates[code] = d / dt;
      }
      e.errorsPerSec = rates;
    }
    e.counters.push(sample);
    if (e.counters.length > MAX_COUNTER_SAMPLES) e.counters.shift();
    e.hb = hb;
    e.service = hb.service;
    e.seenAt = now;
    e.intervalMs = hb.intervalMs;
  }

  /** Merges the leading supervisor's verdicts; workers it lists that we never heard are added. */
  status(workers: Iterable<WorkerStatus & { service: string }>, now: number): void {
    const listed = new Set<string>();
    for (const w of workers) {
      listed.add(w.id);
      const e = this.#entry(w.id, w.service, now - w.heartbeatAgeMs);
      if (e === undefined) continue;
      e.status = w;
      if (e.hb === null) e.seenAt = now - w.heartbeatAgeMs;
    }
    for (const e of this.#entries.values()) if (!listed.has(e.id)) e.status = null;
  }

  /** Forgets every supervisor verdict (no supervisor leads any more). */
  clearStatus(): void {
    for (const e of this.#entries.values()) e.status = null;
  }

  drainEvent(workerId: string, reason: string): void {
    const e = this.#entries.get(workerId);
    if (e !== undefined) e.drainEventReason = reason;
  }

  #state(e: Entry, now: number): WorkerState {
    const hb = e.hb;
    if (hb !== null && (hb.final === true || hb.state === 'stopped')) return 'stopped';
    if (now - e.seenAt > LOST_AFTER_INTERVALS * e.intervalMs) return 'lost';
    if (hb === null) return (e.status?.state ?? 'lost') as WorkerState;
    return hb.state;
  }

  /** Current views, forgetting workers gone for longer than {@link FORGET_AFTER_MS}. */
  views(now: number): WorkerView[] {
    const out: WorkerView[] = [];
    for (const e of this.#entries.values()) {
      const state = this.#state(e, now);
      if ((state === 'lost' || state === 'stopped') && now - e.seenAt > FORGET_AFTER_MS) {
        this.#entries.delete(e.id);
        continue;
      }
      out.push(viewOf(e, state, now));
    }
    return out.sort((a, b) => (a.service === b.service ? (a.id < b.id ? -1 : 1) : a.service < b.service ? -1 : 1));
  }

  /** Appends one sample to every worker's history (zeros while it is not live). */
  sample(views: WorkerView[]): void {
    for (const v of views) {
      const e = this.#entries.get(v.id);
      if (e === undefined) continue;
      const live = v.state !== 'lost' && v.state !== 'stopped';
      e.history.callsPerSec.push(live ? v.callsPerSec : 0);
      e.history.p99Ms.push(live ? v.p99Ms : 0);
      e.history.loopDelayMs.push(live ? v.loopDelayMs : 0);
      e.history.rssMb.push(live ? v.rssBytes / 1_048_576 : 0);
    }
  }

  histories(): Record<string, WorkerHistory> {
    const out: Record<string, WorkerHistory> = {};
    for (const e of this.#entries.values()) {
      const h = e.history;
      out[e.id] = { callsPerSec: h.callsPerSec.toArray(), p99Ms: h.p99Ms.toArray(), loopDelayMs: h.loopDelayMs.toArray(), rssMb: h.rssMb.toArray() };
    }
    return out;
  }
}

function roundedRates(rates: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const code in rates) out[code] = round(rates[code]!);
  return out;
}

function viewOf(e: Entry, state: WorkerState, now: number): WorkerView {
  const hb = e.hb;
  const s = e.status;
  const live = state !== 'lost' && state !== 'stopped';
  return {
    id: e.id,
    service: e.service,
    host: hb?.host ?? s?.host ?? '',
    pid: hb?.pid ?? s?.pid ?? 0,
    version: hb?.version ?? s?.version ?? '',
    state,
    health: s?.health ?? null,
    reasons: s?.reasons ?? [],
    drainReason: s?.lastDrainReason ?? e.drainEventReason,
    ejectedUntil: s?.ejectedUntil ?? null,
    ejections: s?.ejections ?? 0,
    callsPerSec: live ? round(hb !== null ? e.callsPerSec : (s?.callsPerSec ?? 0)) : 0,
    errorsPerSec: live ? roundedRates(e.errorsPerSec) : {},
    p50Ms: round(hb?.p50Ms ?? 0),
    p99Ms: round(hb?.p99Ms ?? s?.p99Ms ?? 0),
    inFlight: hb?.inFlight ?? s?.inFlight ?? 0,
    concurrency: hb?.concurrency ?? s?.concurrency ?? 0,
    loopDelayMs: round(hb?.loopDelayP99Ms ?? 0),
    rssBytes: hb?.rssBytes ?? 0,
    healthError: hb?.healthError ?? null,
    heartbeatAgeMs: Math.max(0, now - e.seenAt),
    source: hb !== null ? 'heartbeat' : 'status',
  };
}
