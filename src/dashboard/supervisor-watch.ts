/**
 * Which supervisors are alive and which one leads, from their heartbeats and from the answers to
 * the status requests. Says `gone` as soon as nobody answers and no leader heartbeats, so the page
 * never shows a dead supervisor's verdicts as live.
 */
import type { DeadlinePolicy, SupervisorHeartbeat } from '../protocol/supervisor-envelopes.js';
import type { StatusReply } from '../supervisor/status.js';
import type { SupervisorSeen, SupervisorView } from './view.js';

/** A status reply older than this no longer counts as a live supervisor. */
export const STATUS_STALE_MS = 3_000;
/** A supervisor silent for this many of its intervals is no longer listed. */
const SUPERVISOR_SILENT_INTERVALS = 3;
/** The status failure that means nobody listens on the status subject. */
export const NO_RESPONDERS = 'no responders';
/** Supervisors remembered at most. */
const MAX_SUPERVISORS = 16;

interface Heard {
  hb: SupervisorHeartbeat;
  at: number;
}

export class SupervisorWatch {
  readonly #heard = new Map<string, Heard>();
  #status: StatusReply | null = null;
  #statusAt = 0;
  #statusError: string | null = null;
  #state: SupervisorView['state'] = 'none';
  #since: number;

  constructor(now: number) {
    this.#since = now;
  }

  heartbeat(hb: SupervisorHeartbeat, now: number): void {
    if (!this.#heard.has(hb.id) && this.#heard.size >= MAX_SUPERVISORS) return;
    this.#heard.set(hb.id, { hb, at: now });
  }

  statusReply(reply: StatusReply, now: number): void {
    this.#status = reply;
    this.#statusAt = now;
    this.#statusError = null;
  }

  statusFailed(reason: string): void {
    this.#statusError = reason;
  }

  #live(now: number): Heard[] {
    const out: Heard[] = [];
    for (const [id, h] of this.#heard) {
      if (now - h.at > SUPERVISOR_SILENT_INTERVALS * h.hb.intervalMs) this.#heard.delete(id);
      else out.push(h);
    }
    return out;
  }

  /**
   * The status reply while it is fresh, else null. One failed request (a timeout on a busy
   * machine) does not discard a reply that is still fresh; "nobody listens" does.
   */
  liveStatus(now: number): StatusReply | null {
    if (this.#status === null || now - this.#statusAt > STATUS_STALE_MS || this.#statusError === NO_RESPONDERS) return null;
    return this.#status;
  }

  /** The leader's deadline policy of `service` (its own entry or `*`), or null. */
  deadlineOf(service: string, now: number): DeadlinePolicy | null {
    const leader = this.#live(now).find((h) => h.hb.leader);
    const deadlines = leader?.hb.deadlines;
    if (deadlines !== undefined) return deadlines[service] ?? deadlines['*'] ?? null;
    const svc = this.liveStatus(now)?.services.find((s) => s.service === service);
    return svc?.deadline ?? null;
  }

  view(now: number): SupervisorView {
    const live = this.#live(now);
    const status = this.liveStatus(now);
    const leaderHb = live.find((h) => h.hb.leader);
    const leading = status !== null || leaderHb !== undefined;
    const state: SupervisorView['state'] = leading ? 'leading' : this.#state === 'none' && this.#status === null ? 'none' : 'gone';
    if (state !== this.#state) {
      this.#state = state;
      this.#since = now;
    }
    const supervisors: SupervisorSeen[] = live.map((h) => ({ id: h.hb.id, leader: h.hb.leader, startedAt: h.hb.startedAt, intervalMs: h.hb.intervalMs, heartbeatAgeMs: now - h.at }));
    supervisors.sort((a, b) => a.startedAt - b.startedAt);
    return {
      state,
      leaderId: status?.supervisor.leaderId ?? leaderHb?.hb.id ?? null,
      supervisors,
      statusAgeMs: this.#status === null ? null : now - this.#statusAt,
      statusError: this.#statusError,
      statusTruncated: status?.truncated === true,
      since: this.#since,
    };
  }
}
