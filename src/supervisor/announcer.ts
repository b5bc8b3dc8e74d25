/**
 * What a supervisor says on the bus: its heartbeat (every interval, and at once when it takes the
 * lead) and its events (decisions and liveness changes; the supervisor publishes them only while
 * it leads). Both are signed with the supervisor's nkey when it has one.
 */
import type { NatsConnection } from 'nats';
import { encode } from '../protocol/codec.js';
import { PROTOCOL_VERSION } from '../protocol/envelope.js';
import { eventSubject, supervisorHeartbeatSubject } from '../protocol/subjects.js';
import type { DeadlinePolicy, EventKind, SupervisorEvent, SupervisorHeartbeat } from '../protocol/supervisor-envelopes.js';
import type { NkeyCommandSigner } from '../security/signed-commands.js';
import type { EventFields } from './actions.js';
import type { HealthPolicy } from './policy.js';

export interface AnnouncerSettings {
  id: string;
  prefix: string;
  startedAt: number;
  intervalMs: number;
  policy: HealthPolicy;
  deadlines: Record<string, DeadlinePolicy>;
  /** Signs heartbeats and events; null: they go out unsigned. */
  nkey: NkeyCommandSigner | null;
}

export class SupervisorAnnouncer {
  readonly #nc: NatsConnection;
  readonly #s: AnnouncerSettings;

  constructor(nc: NatsConnection, settings: AnnouncerSettings) {
    this.#nc = nc;
    this.#s = settings;
  }

  /** Publishes an event on `<prefix>._evt.<service>`; `workerId` is left out for a supervisor's own events. */
  event(kind: EventKind, service: string, workerId: string | undefined, reason: string, figures: Record<string, unknown>, fields?: EventFields): void {
    if (this.#nc.isClosed()) return;
    const s = this.#s;
    const ev: SupervisorEvent = { v: PROTOCOL_VERSION, ts: Date.now(), supervisor: s.id, kind, service, reason, ...fields, figures };
    if (workerId !== undefined) ev.workerId = workerId;
    const subject = eventSubject(s.prefix, service);
    this.#nc.publish(subject, encode(s.nkey?.signMessage(subject, s.id, ev) ?? ev));
  }

  /** Publishes this supervisor's heartbeat, saying whether it leads. */
  heartbeat(leader: boolean): void {
    if (this.#nc.isClosed()) return;
    const s = this.#s;
    const hb: SupervisorHeartbeat = {
      v: PROTOCOL_VERSION,
      id: s.id,
      startedAt: s.startedAt,
      ts: Date.now(),
      intervalMs: s.intervalMs,
      leader,
      deadlines: s.deadlines,
      policy: { ...s.policy },
    };
    const subject = supervisorHeartbeatSubject(s.prefix);
    this.#nc.publish(subject, encode(s.nkey?.signMessage(subject, s.id, hb) ?? hb));
  }
}
