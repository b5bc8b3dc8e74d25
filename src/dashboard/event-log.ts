/**
 * The supervisor's recent decisions, newest last, bounded in count.
 */
import type { SupervisorEvent } from '../protocol/supervisor-envelopes.js';
import type { EventView } from './view.js';

/** Decisions kept for the timeline and `/api/events`. */
export const MAX_EVENTS = 500;

export class EventLog {
  readonly #events: EventView[] = [];

  add(e: SupervisorEvent): EventView {
    const view: EventView = { ts: e.ts, supervisor: e.supervisor, kind: e.kind, service: e.service, workerId: e.workerId ?? null, reason: e.reason, code: e.code ?? null, ejectionMs: e.ejectionMs ?? null, ejection: e.ejection ?? null, figures: e.figures ?? {} };
    this.#events.push(view);
    if (this.#events.length > MAX_EVENTS) this.#events.splice(0, this.#events.length - MAX_EVENTS);
    return view;
  }

  /** Events newer than `since` (ms since the epoch), at most `limit`, newest last. */
  list(since = 0, limit = MAX_EVENTS): EventView[] {
    const out = since > 0 ? this.#events.filter((e) => e.ts > since) : this.#events;
    return out.slice(-limit);
  }
}
