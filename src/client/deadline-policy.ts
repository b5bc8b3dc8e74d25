/**
 * The per-service deadline policy as the supervisor publishes it in its heartbeats. A client
 * keeps the latest one from the leading supervisor and consults it on each call: a requested
 * timeout is clamped to the service's maximum, and a call that names none gets the service's
 * default. Until a supervisor has been heard (at most one supervisor interval after connecting),
 * and when none runs, calls use the client's own timeouts.
 *
 * Supervisor heartbeats are claims anyone allowed on the subject can make, so the policy is kept
 * only for {@link POLICY_TTL_INTERVALS} of the heartbeat's interval (itself capped at
 * {@link MAX_POLICY_INTERVAL_MS}): a forged heartbeat no longer counts once the real leader has
 * been silent about it for a few seconds. And an entry that would clamp calls below
 * {@link MIN_POLICY_MAX_MS} is ignored (and logged): no supervisor needs that.
 */
import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from '../logging/logger.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { decodeChecked } from '../protocol/codec.js';
import { supervisorHeartbeatSubject } from '../protocol/subjects.js';
import type { NkeyCommandVerifier } from '../security/signed-commands.js';
import { checkSupervisorHeartbeat, type DeadlinePolicy, type SupervisorHeartbeat } from '../protocol/supervisor-envelopes.js';

/** A policy is kept for this many of its heartbeat's intervals after that heartbeat. */
export const POLICY_TTL_INTERVALS = 3;
/** The longest interval taken from a supervisor heartbeat for the policy's lifetime, in ms. */
export const MAX_POLICY_INTERVAL_MS = 10_000;
/** A policy entry that clamps a service's calls below this many ms is ignored. */
export const MIN_POLICY_MAX_MS = 100;
/** At most one "policy ignored" log line per this period. */
const IGNORED_LOG_PERIOD_MS = 10_000;

export class DeadlinePolicyCache {
  readonly #sub: Subscription;
  readonly #nc: NatsConnection;
  readonly #log: Logger | undefined;
  readonly #verifier: NkeyCommandVerifier | null;
  #policies = new Map<string, DeadlinePolicy>();
  #fallback: DeadlinePolicy | undefined;
  #expiresAt = -Infinity;
  readonly #ignoredLog = new LogThrottle(IGNORED_LOG_PERIOD_MS);
  /** Policy entries ignored for being below the floor. */
  #ignored = 0;
  get ignored(): number {
    return this.#ignored;
  }
  /** Leader heartbeats ignored for want of a trusted signature (with `trustedKeys` only). */
  #unsigned = 0;
  get unsigned(): number {
    return this.#unsigned;
  }

  /**
   * `verifier`: when given, only heartbeats signed by a key it trusts count (see docs/protocol.md,
   * *Signed supervisor messages*); a worker passes the keys it trusts for control.
   */
  constructor(nc: NatsConnection, prefix: string, logger?: Logger, verifier: NkeyCommandVerifier | null = null) {
    this.#nc = nc;
    this.#log = logger;
    this.#verifier = verifier;
    this.#sub = nc.subscribe(supervisorHeartbeatSubject(prefix), { callback: (err, msg) => err || this.#onHeartbeat(msg.subject, msg.data) });
  }

  /**
   * The timeout of a call to `service`: `requested` (or the service default, else `fallback`)
   * clamped to the service maximum.
   */
  timeoutFor(service: string, requested: number | undefined, fallback: number, now = Date.now()): number {
    const p = now <= this.#expiresAt ? this.#policies.get(service) ?? this.#fallback : undefined;
    if (p === undefined) return requested ?? fallback;
    return Math.min(requested ?? p.defaultMs, p.maxMs);
  }

  /** The supervisor's maximum for calls to `service` (its own entry, else `*`), or undefined when it sets none. */
  maxFor(service: string, now = Date.now()): number | undefined {
    if (now > this.#expiresAt) return undefined;
    return (this.#policies.get(service) ?? this.#fallback)?.maxMs;
  }

  #ignore(supervisor: string, service: string, maxMs: number, now: number): void {
    this.#ignored++;
    if (this.#ignoredLog.take(now) === null) return;
    this.#log?.warn({ supervisor, service, maxMs, floorMs: MIN_POLICY_MAX_MS }, 'deadline policy below the floor ignored');
  }

  close(): void {
    if (!this.#nc.isClosed()) this.#sub.unsubscribe();
  }

  #onHeartbeat(subject: string, data: Uint8Array): void {
    let value: unknown;
    try {
      value = decodeChecked(data);
    } catch {
      return;
    }
    if (checkSupervisorHeartbeat(value) !== null) return;
    const hb = value as SupervisorHeartbeat;
    if (!hb.leader) return; // a standby's policy may be stale or different: only the leader's counts
    if (this.#verifier !== null && !this.#verifier.verifyMessage(subject, hb.id, hb).ok) {
      this.#unsigned++;
      return;
    }
    const now = Date.now();
    const map = new Map<string, DeadlinePolicy>();
    let fallback: DeadlinePolicy | undefined;
    for (const service in hb.deadlines) {
      const p = hb.deadlines[service]!;
      if (p.maxMs < MIN_POLICY_MAX_MS) {
        this.#ignore(hb.id, service, p.maxMs, now);
        continue;
      }
      if (service === '*') fallback = p;
      else map.set(service, p);
    }
    this.#policies = map;
    this.#fallback = fallback;
    this.#expiresAt = now + POLICY_TTL_INTERVALS * Math.min(hb.intervalMs, MAX_POLICY_INTERVAL_MS);
  }
}
