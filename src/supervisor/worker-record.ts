/**
 * A worker's record in the supervisor's registry: its latest heartbeat, call samples, liveness and
 * ejection state, and how a record starts. The registry (registry.ts) owns the mutable form;
 * everyone else gets the read-only {@link WorkerRecord}.
 */
import type { WorkerHeartbeat } from '../protocol/heartbeat.js';
import type { HealthVerdict } from './policy.js';

export interface Ejection {
  since: number;
  until: number;
  /** The nth ejection of this worker within the window. */
  count: number;
  reason: string;
  /** Stable code of the reason (see drain-reasons.ts). */
  code: string;
  /** When the last drain command went out, and whether the worker acknowledged it. */
  sentAt: number;
  acked: boolean;
}

export interface Sample {
  at: number;
  calls: number;
  faults: number;
  received: number;
}

export interface MutableRecord {
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
  /** Drains and shutdowns this supervisor commanded, by reason code, since it first saw the worker: never decreases. */
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
  /**
   * What the broker said of the connection its heartbeat names (see member-check.ts): `verified`
   * (that worker's own connection), `refuted`, or `unchecked` (not asked yet, or no broker check
   * configured). Only verified members are counted, commanded and kicked when a check is configured.
   */
  member: MemberStanding;
}

export type MemberStanding = 'unchecked' | 'verified' | 'refuted';

/** A worker's record as everyone but the registry sees it: read-only. */
export type WorkerRecord = Readonly<Omit<MutableRecord, 'ejection' | 'samples' | 'ejections' | 'drainsByReason'>> & {
  readonly ejection: Readonly<Ejection> | null;
  readonly ejections: readonly number[];
  readonly drainsByReason: Readonly<Record<string, number>>;
};

/** What an ejection is: its period, its rank within the window, why, and who decided it. */
export interface EjectionOrder {
  periodMs: number;
  count: number;
  reason: string;
  code: string;
  shutdown: boolean;
  /** By this supervisor (counted in `drainsByReason`), not followed from another. */
  commanded: boolean;
  /** When it was decided (the leader's time for a followed one). */
  since: number;
}

/** How a worker was found lost: silent for too long, or its connection closed at the broker. */
export type LostBy = 'heartbeat_silence' | 'connection_closed';

/** The record of a worker first heard at `now`, by heartbeat `hb` whose call figures are `sample`. */
export function newRecord(hb: WorkerHeartbeat, now: number, sample: Sample): MutableRecord {
  const rec: MutableRecord = {
    id: hb.id,
    service: hb.service,
    hb,
    firstSeen: now,
    lastSeen: now,
    lost: false,
    samples: [sample],
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
    member: 'unchecked',
  };
  trackService(rec, now);
  return rec;
}

/** Keeps `outOfServiceSince` in step with the latest heartbeat. */
export function trackService(rec: MutableRecord, now: number): void {
  const out = rec.hb.state === 'draining' || rec.hb.state === 'drained';
  if (!out) rec.outOfServiceSince = null;
  else rec.outOfServiceSince ??= now;
}
