/**
 * The supervisor's view of the fleet, built from heartbeats alone: one record per worker with its
 * latest heartbeat, call figures over the rate window (call-samples.ts), liveness and ejection
 * state (worker-record.ts).
 *
 * The registry is the one owner of its records: outside it they are read-only, and they change
 * only through the named transitions below (a heartbeat, lost, ejected, drain resent, drain
 * acknowledged, resumed, ejection expired, followed from the leader's event, judged, withheld).
 * Changes of liveness go to one hook, so logging, events and metrics attach in one place.
 */
import type { WorkerHeartbeat } from '../protocol/heartbeat.js';
import type { SupervisorEvent } from '../protocol/supervisor-envelopes.js';
import { addSample, sampleOf, windowFigures } from './call-samples.js';
import { ConnectionIndex } from './connection-index.js';
import { ServiceBounds } from './registry-bounds.js';
import { newRecord, trackService, type EjectionOrder, type LostBy, type MemberStanding, type MutableRecord, type WorkerRecord } from './worker-record.js';
import { ejectionPeriodMs, type CallFigures, type HealthPolicy, type HealthVerdict } from './policy.js';

export { MAX_WORKERS, MAX_WORKERS_PER_SERVICE } from './registry-bounds.js';
export type { Ejection, EjectionOrder, LostBy, MemberStanding, WorkerRecord } from './worker-record.js';

export type RegistryEvent = 'joined' | 'lost' | 'returned' | 'forgotten';
export type RegistryHook = (event: RegistryEvent, record: WorkerRecord, figures: Record<string, number>, code?: LostBy) => void;

export class WorkerRegistry {
  readonly #workers = new Map<string, MutableRecord>();
  readonly #connections = new ConnectionIndex();
  readonly #hooks: RegistryHook[] = [];
  readonly #policy: HealthPolicy;
  readonly #verifying: boolean;
  /** The same records by service, for the bounds. */
  readonly #bounds: ServiceBounds;
  #refused = 0;
  #evicted = 0;

  /**
   * `verifying`: members are checked against the broker (see member-check.ts), so unchecked ones
   * may be evicted to make room; without it a full service takes no new worker until one leaves.
   */
  constructor(policy: HealthPolicy, verifying = false) {
    this.#policy = policy;
    this.#verifying = verifying;
    this.#bounds = new ServiceBounds(verifying);
  }

  /** Whether members are checked against the broker: only verified ones count then. */
  get verifying(): boolean {
    return this.#verifying;
  }

  /** Whether `rec` counts as a member: verified by the broker, or any when no check is configured. */
  counts(rec: WorkerRecord): boolean {
    return !this.#verifying || rec.member === 'verified';
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

  /** Workers evicted to make room for new ones (lost, stopped, refuted or unchecked ones). */
  get evicted(): number {
    return this.#evicted;
  }

  get(id: string): WorkerRecord | undefined {
    return this.#workers.get(id);
  }

  records(): IterableIterator<WorkerRecord> {
    return this.#workers.values();
  }

  /** The worker whose latest heartbeat names this broker connection. */
  byConnection(serverId: string, clientId: number): WorkerRecord | undefined {
    const id = this.#connections.get(serverId, clientId);
    return id === undefined ? undefined : this.#workers.get(id);
  }

  /** Transition: a (validated) heartbeat received at `now`. */
  ingest(hb: WorkerHeartbeat, now: number): void {
    let rec = this.#workers.get(hb.id);
    const sample = sampleOf(hb, now);
    if (rec === undefined) {
      if (!this.#makeRoom(hb.service)) {
        this.#refused++;
        return;
      }
      rec = newRecord(hb, now, sample);
      this.#add(rec);
      this.#connections.update(rec.id, hb, null);
      this.#emit('joined', rec, {});
      return;
    }
    if (hb.service !== rec.service) return; // an id cannot change service: a forged or confused sender
    if (hb.startedAt === rec.hb.startedAt && hb.seq <= rec.hb.seq) {
      // Late or duplicate: its figures are old, but the worker was alive to send it. A forged
      // heartbeat with a huge seq cannot make the real one's go unheard and get it declared lost.
      if (!rec.lost) rec.lastSeen = now;
      return;
    }
    const prevAt = rec.samples[rec.samples.length - 1]!.at;
    rec.callsPerSec = addSample(rec.samples, sample, this.#policy.rateWindowMs);
    const before = rec.hb;
    rec.hb = hb;
    rec.lastSeen = now;
    if (before.serverId !== hb.serverId || before.clientId !== hb.clientId) rec.member = 'unchecked';
    this.#connections.update(rec.id, hb, before);
    trackService(rec, now);
    if (rec.lost) {
      rec.lost = false;
      rec.returnedAt = now;
      this.#emit('returned', rec, { silentMs: now - prevAt });
    }
  }

  /** Transition: ejected (drained or shut down), by this supervisor or followed from another. */
  ejected(record: WorkerRecord, now: number, order: EjectionOrder): void {
    const rec = this.#own(record);
    if (rec === undefined) return;
    rec.ejection = { since: order.since, until: now + order.periodMs, count: order.count, reason: order.reason, code: order.code, sentAt: now, acked: !order.commanded };
    rec.shutdownSent = order.shutdown;
    rec.returnedAt = null;
    rec.ejections.push(now);
    rec.lastDrainReason = order.reason;
    if (order.commanded) rec.drainsByReason[order.code] = (rec.drainsByReason[order.code] ?? 0) + 1;
    rec.samples = rec.samples.slice(-1);
  }

  /** Transition: the drain of an ejected worker still serving went out again at `now`. */
  drainResent(record: WorkerRecord, now: number): void {
    const rec = this.#own(record);
    if (rec?.ejection != null) rec.ejection.sentAt = now;
  }

  /** Transition: the worker acknowledged its drain (or shutdown). */
  drainAcknowledged(record: WorkerRecord): void {
    const rec = this.#own(record);
    if (rec?.ejection != null) rec.ejection.acked = true;
  }

  /** Transition: resumed at `now` (acknowledged by the worker, or followed from the leader's event); its call history starts afresh. */
  resumed(record: WorkerRecord, now: number): void {
    const rec = this.#own(record);
    if (rec === undefined) return;
    rec.ejection = null;
    rec.outOfServiceSince = null;
    rec.resumedAt = now;
    rec.samples = rec.samples.slice(-1);
  }

  /** Transition: back in service after its period without our ack (a resume that outlived its timeout, or an operator's). */
  ejectionExpired(record: WorkerRecord): void {
    const rec = this.#own(record);
    if (rec === undefined || rec.ejection === null) return;
    rec.ejection = null;
    rec.samples = rec.samples.slice(-1);
  }

  /**
   * Transition: followed from the leader's (validated) event, received at `now`. The end of an
   * ejection is `now` plus the event's remaining `ejectionMs`, so no clock of another host is read.
   */
  followed(record: WorkerRecord, ev: SupervisorEvent, now: number): void {
    if (ev.kind === 'drain' || ev.kind === 'shutdown') {
      const count = ev.ejection ?? record.ejections.length + 1;
      // Clamped to this supervisor's own longest ejection: no event keeps a worker out for longer.
      const periodMs = Math.min(ev.ejectionMs ?? ejectionPeriodMs(count, this.#policy), this.#policy.maxEjectionMs);
      this.ejected(record, now, { periodMs, count, reason: ev.reason, code: ev.code ?? 'other', shutdown: ev.kind === 'shutdown', commanded: false, since: now });
    } else if (ev.kind === 'resume') {
      this.resumed(record, now);
    }
  }

  /** Transition: judged healthy or not; a healthy verdict ends an unhealthy streak. */
  judged(record: WorkerRecord, health: HealthVerdict): void {
    const rec = this.#own(record);
    if (rec === undefined) return;
    rec.health = health;
    if (health.healthy) rec.withheldLogged = false;
  }

  /** Transition: a drain was withheld; returns whether it is the first of the unhealthy streak. */
  withheld(record: WorkerRecord): boolean {
    const rec = this.#own(record);
    if (rec === undefined || rec.withheldLogged) return false;
    rec.withheldLogged = true;
    return true;
  }

  /** Transition: lost because its connection closed at the broker; false when it was lost, stopped or unknown already. */
  connectionClosed(record: WorkerRecord, now: number): boolean {
    const rec = this.#own(record);
    if (rec === undefined || rec.lost || rec.hb.final === true || rec.hb.state === 'stopped') return false;
    rec.lost = true;
    this.#emit('lost', rec, { silentMs: now - rec.lastSeen }, 'connection_closed');
    return true;
  }

  /** Calls and faults of one worker over the rate window. */
  window(rec: WorkerRecord): CallFigures {
    return windowFigures(this.#workers.get(rec.id)?.samples ?? []);
  }

  /**
   * Transition: marks silent workers lost and forgets long-silent ones; returns the workers newly
   * lost. Silence is counted from `heardSince` at the earliest: the supervisor could not hear before.
   */
  sweep(now: number, heardSince = -Infinity): WorkerRecord[] {
    const lost: WorkerRecord[] = [];
    for (const rec of this.#workers.values()) {
      const silentMs = now - Math.max(rec.lastSeen, heardSince);
      const gone = rec.hb.final === true || rec.hb.state === 'stopped';
      if (!rec.lost && !gone && silentMs > rec.hb.intervalMs * this.#policy.lostAfterIntervals) {
        rec.lost = true;
        lost.push(rec);
        this.#emit('lost', rec, { silentMs, intervalMs: rec.hb.intervalMs, lostAfterIntervals: this.#policy.lostAfterIntervals }, 'heartbeat_silence');
      }
      if ((rec.lost || gone) && silentMs > this.#policy.forgetAfterMs) {
        this.#remove(rec);
        this.#emit('forgotten', rec, { silentMs });
      }
      const windowStart = now - this.#policy.ejectionWindowMs;
      while (rec.ejections.length > 0 && rec.ejections[0]! < windowStart) rec.ejections.shift();
    }
    return lost;
  }

  /**
   * Transition: the broker's word on the connection `serverId`/`clientId` that `record`'s
   * heartbeat named; ignored when its latest heartbeat names another one by now.
   */
  checked(record: WorkerRecord, serverId: string, clientId: number, standing: MemberStanding): void {
    const rec = this.#own(record);
    if (rec === undefined || rec.hb.serverId !== serverId || rec.hb.clientId !== clientId) return;
    rec.member = standing;
  }

  /** Records whose connection the broker has not been asked about yet. */
  *unchecked(): IterableIterator<WorkerRecord> {
    for (const rec of this.#workers.values()) if (rec.member === 'unchecked' && !rec.lost) yield rec;
  }

  /** Makes room for a new worker of `service` (see registry-bounds.ts); false when there is none. */
  #makeRoom(service: string): boolean {
    const victim = this.#bounds.victimFor(service, this.#workers.size);
    if (victim === null) return true;
    if (victim === undefined) return false;
    // Quietly: a flood of made-up ids would otherwise be a flood of events too.
    this.#remove(victim);
    this.#evicted++;
    return true;
  }

  #add(rec: MutableRecord): void {
    this.#workers.set(rec.id, rec);
    this.#bounds.add(rec);
  }

  #remove(rec: MutableRecord): void {
    this.#workers.delete(rec.id);
    this.#connections.remove(rec.id, rec.hb);
    this.#bounds.remove(rec);
  }

  /** The registry's own record behind `record`; undefined for a record it no longer holds. */
  #own(record: WorkerRecord): MutableRecord | undefined {
    const rec = this.#workers.get(record.id);
    return rec === record ? rec : undefined;
  }

  #emit(event: RegistryEvent, rec: WorkerRecord, figures: Record<string, number>, code?: LostBy): void {
    for (const hook of this.#hooks) hook(event, rec, figures, code);
  }
}
