/**
 * The registry's bounds: at most {@link MAX_WORKERS_PER_SERVICE} workers of one service and
 * {@link MAX_WORKERS} in all, and which record makes room for a new worker when a bound is
 * reached. Keeps the registry's records by service; the registry owns them.
 */
import type { MutableRecord } from './worker-record.js';

/** Workers tracked at most; heartbeats of further workers are ignored (or evict an unverified one). */
export const MAX_WORKERS = 10_000;
/** Workers of one service tracked at most, so a flood under one service never crowds out another. */
export const MAX_WORKERS_PER_SERVICE = 1_000;

/** How readily a record is evicted: lower first; {@link KEPT} never. */
const KEPT = 3;

export class ServiceBounds {
  readonly #services = new Map<string, Map<string, MutableRecord>>();
  readonly #verifying: boolean;

  /** `verifying`: members are checked against the broker, so one not checked yet may be evicted. */
  constructor(verifying: boolean) {
    this.#verifying = verifying;
  }

  add(rec: MutableRecord): void {
    let m = this.#services.get(rec.service);
    if (m === undefined) this.#services.set(rec.service, (m = new Map()));
    m.set(rec.id, rec);
  }

  remove(rec: MutableRecord): void {
    const m = this.#services.get(rec.service);
    m?.delete(rec.id);
    if (m?.size === 0) this.#services.delete(rec.service);
  }

  /**
   * What to evict so a new worker of `service` fits among `total` records: null when it fits as
   * it is; else, in its service (or the largest one when the registry is full), a lost or stopped
   * worker, then one the broker refuted, then (when verifying) one not checked yet, the longest
   * silent first; never a verified one. Undefined when nothing may go.
   */
  victimFor(service: string, total: number): MutableRecord | null | undefined {
    const own = this.#services.get(service);
    if (own !== undefined && own.size >= MAX_WORKERS_PER_SERVICE) return this.#victimIn(own);
    if (total < MAX_WORKERS) return null;
    let largest: Map<string, MutableRecord> | undefined;
    for (const m of this.#services.values()) if (largest === undefined || m.size > largest.size) largest = m;
    return largest === undefined ? undefined : this.#victimIn(largest);
  }

  #rank(r: MutableRecord): number {
    if (r.lost || r.hb.state === 'stopped' || r.hb.final === true) return 0;
    if (r.member === 'refuted') return 1;
    return this.#verifying && r.member === 'unchecked' ? 2 : KEPT;
  }

  #victimIn(records: Map<string, MutableRecord>): MutableRecord | undefined {
    let victim: MutableRecord | undefined;
    let best = KEPT;
    for (const r of records.values()) {
      const k = this.#rank(r);
      if (k < best || (k === best && k < KEPT && victim !== undefined && r.lastSeen < victim.lastSeen)) {
        victim = r;
        best = k;
      }
    }
    return victim;
  }
}
