/**
 * Keeps a standby supervisor's ejection state in step with the leader's decisions, read from the
 * leader's events, so that on taking over it resumes the workers the old leader drained (and
 * respects the drain budget they use) instead of forgetting them in the drained state. The end of
 * an ejection comes from the event's typed `ejectionMs` (remaining), counted on this host's clock.
 */
import { decodeChecked } from '../protocol/codec.js';
import { checkSupervisorEvent, type SupervisorEvent } from '../protocol/supervisor-envelopes.js';
import type { WorkerRegistry } from './registry.js';

export class SupervisorFollower {
  readonly #registry: WorkerRegistry;
  readonly #self: string;

  constructor(registry: WorkerRegistry, self: string) {
    this.#registry = registry;
    this.#self = self;
  }

  onEvent(data: Uint8Array): void {
    let ev: SupervisorEvent;
    try {
      const value = decodeChecked(data);
      if (checkSupervisorEvent(value) !== null) return;
      ev = value as SupervisorEvent;
    } catch {
      return;
    }
    if (ev.supervisor === this.#self || ev.workerId === undefined) return;
    const rec = this.#registry.get(ev.workerId);
    if (rec === undefined) return;
    this.#registry.followed(rec, ev, Date.now());
  }
}
