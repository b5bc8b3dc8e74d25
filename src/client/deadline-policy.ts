/**
 * The per-service deadline policy as the supervisor publishes it in its heartbeats. A client
 * keeps the latest one from the leading supervisor and consults it on each call: a requested
 * timeout is clamped to the service's maximum, and a call that names none gets the service's
 * default. Until a supervisor has been heard (at most one supervisor interval after connecting),
 * and when none runs, calls use the client's own timeouts.
 */
import type { NatsConnection, Subscription } from 'nats';
import { decodeChecked } from '../protocol/codec.js';
import { supervisorHeartbeatSubject } from '../protocol/subjects.js';
import { checkSupervisorHeartbeat, type DeadlinePolicy, type SupervisorHeartbeat } from '../protocol/supervisor-envelopes.js';

export class DeadlinePolicyCache {
  readonly #sub: Subscription;
  readonly #nc: NatsConnection;
  #policies = new Map<string, DeadlinePolicy>();
  #fallback: DeadlinePolicy | undefined;

  constructor(nc: NatsConnection, prefix: string) {
    this.#nc = nc;
    this.#sub = nc.subscribe(supervisorHeartbeatSubject(prefix), { callback: (err, msg) => err || this.#onHeartbeat(msg.data) });
  }

  /**
   * The timeout of a call to `service`: `requested` (or the service default, else `fallback`)
   * clamped to the service maximum.
   */
  timeoutFor(service: string, requested: number | undefined, fallback: number): number {
    const p = this.#policies.get(service) ?? this.#fallback;
    if (p === undefined) return requested ?? fallback;
    return Math.min(requested ?? p.defaultMs, p.maxMs);
  }

  /** The supervisor's maximum for calls to `service` (its own entry, else `*`), or undefined when it sets none. */
  maxFor(service: string): number | undefined {
    return (this.#policies.get(service) ?? this.#fallback)?.maxMs;
  }

  close(): void {
    if (!this.#nc.isClosed()) this.#sub.unsubscribe();
  }

  #onHeartbeat(data: Uint8Array): void {
    let value: unknown;
    try {
      value = decodeChecked(data);
    } catch {
      return;
    }
    if (checkSupervisorHeartbeat(value) !== null) return;
    const hb = value as SupervisorHeartbeat;
    if (!hb.leader) return; // a standby's policy may be stale or different: only the leader's counts
    const map = new Map<string, DeadlinePolicy>();
    for (const service in hb.deadlines) if (service !== '*') map.set(service, hb.deadlines[service]!);
    this.#policies = map;
    this.#fallback = hb.deadlines['*'];
  }
}
