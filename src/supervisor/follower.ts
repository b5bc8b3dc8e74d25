/**
 * Keeps a standby supervisor's ejection state in step with the leader's decisions, read from the
 * leader's events, so that on taking over it resumes the workers the old leader drained (and
 * respects the drain budget they use) instead of forgetting them in the drained state.
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
    const now = Date.now();
    if (ev.kind === 'drain' || ev.kind === 'shutdown') {
      const until = typeof ev.figures?.until === 'number' ? ev.figures.until : now;
      const count = typeof ev.figures?.ejection === 'number' ? ev.figures.ejection : rec.ejections.length + 1;
      rec.ejection = { since: ev.ts, until, count, reason: ev.reason, sentAt: now, acked: true };
      rec.shutdownSent = ev.kind === 'shutdown';
      rec.returnedAt = null;
      this.#registry.recordEjection(rec, now, ev.reason, false);
    } else if (ev.kind === 'resume') {
      rec.ejection = null;
      rec.resumedAt = now;
      this.#registry.resetWindow(rec);
    }
  }
}
