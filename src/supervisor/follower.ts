/**
 * Keeps a standby supervisor's ejection state in step with the leader's decisions, read from the
 * leader's events, so that on taking over it resumes the workers the old leader drained (and
 * respects the drain budget they use) instead of forgetting them in the drained state. The end of
 * an ejection comes from the event's typed `ejectionMs` (remaining), counted on this host's clock
 * and clamped to the policy's `maxEjectionMs`.
 *
 * Events are claims, so only these are followed: while this supervisor stands by (the leader acts
 * on its own verdicts only, never on events), from the supervisor it takes for the leader, and,
 * when it verifies signatures, signed by a trusted key.
 */
import { decodeChecked } from '../protocol/codec.js';
import { checkSupervisorEvent, type SupervisorEvent } from '../protocol/supervisor-envelopes.js';
import type { WorkerRegistry } from './registry.js';

/** Who leads now, as this supervisor sees it (its own id when it leads; '' when nobody does yet). */
export type LeaderOf = () => string;
/** Null when `ev`, received on `subject`, is authentic (signed by a trusted key), else the reason. */
export type EventCheck = (subject: string, ev: SupervisorEvent) => string | null;

export class SupervisorFollower {
  readonly #registry: WorkerRegistry;
  readonly #self: string;
  readonly #leaderOf: LeaderOf;
  readonly #authentic: EventCheck | null;
  /** Events not followed (not the leader's, or not authentic), for tests and logs. */
  #ignored = 0;
  get ignored(): number {
    return this.#ignored;
  }

  constructor(registry: WorkerRegistry, self: string, leaderOf: LeaderOf, authentic: EventCheck | null) {
    this.#registry = registry;
    this.#self = self;
    this.#leaderOf = leaderOf;
    this.#authentic = authentic;
  }

  onEvent(subject: string, data: Uint8Array): void {
    let ev: SupervisorEvent;
    try {
      const value = decodeChecked(data);
      if (checkSupervisorEvent(value) !== null) return;
      ev = value as SupervisorEvent;
    } catch {
      return;
    }
    if (ev.supervisor === this.#self || ev.workerId === undefined) return;
    if (ev.kind !== 'drain' && ev.kind !== 'shutdown' && ev.kind !== 'resume') return;
    const leader = this.#leaderOf();
    if (leader === this.#self || leader === '' || ev.supervisor !== leader || (this.#authentic !== null && this.#authentic(subject, ev) !== null)) {
      this.#ignored++;
      return;
    }
    const rec = this.#registry.get(ev.workerId);
    if (rec === undefined || rec.service !== ev.service) return;
    this.#registry.followed(rec, ev, Date.now());
  }
}
