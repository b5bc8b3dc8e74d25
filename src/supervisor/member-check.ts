/**
 * Which heartbeats come from real workers. A heartbeat names the broker connection its worker
 * serves on (`serverId`, `clientId`); with a system-account connection the supervisor asks that
 * server about it (CONNZ) and takes the worker as a verified member only when the connection is
 * named after the worker's id, the id names the heartbeat's service, and the connection belongs
 * to the supervisor's own account and to the service's user. Until then a worker is neither
 * counted in its service's drain budget, nor commanded, nor kicked, so forged heartbeats under
 * made-up ids cannot raise the budget, and ones naming another connection cannot get it kicked.
 *
 * The service's user is the one given in `memberUsers`, else the user of the first connection
 * verified for that service (heartbeat subjects are confined per service by the broker, so only
 * that service's credential can claim it first).
 */
import type { NatsConnection } from 'nats';
import type { Logger } from '../logging/logger.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { connectionInfo, type ConnectionInfo } from '../security/connection-info.js';
import type { MemberStanding } from './worker-record.js';

/** Broker checks in flight at once. */
export const MAX_CONCURRENT_CHECKS = 4;
/** Checks waiting at most; the rest are asked again at a later sweep. */
export const MAX_QUEUED_CHECKS = 256;
/** Services whose user is remembered at most. */
const MAX_BOUND_SERVICES = 10_000;
/** At most one "not verified" log line per this period, with a count of the rest. */
const REFUTED_LOG_PERIOD_MS = 1_000;

export interface MemberClaim {
  id: string;
  service: string;
  serverId: string;
  clientId: number;
}

/** Why the connection `conn` does not back the claim, or null when it does. Pure. */
export function refutation(conn: ConnectionInfo | null, claim: MemberClaim, account: string, user: string | undefined): string | null {
  if (conn === null) return `server ${claim.serverId} has no open connection ${claim.clientId}`;
  if (!claim.id.startsWith(`${claim.service}-`)) return `worker id ${claim.id} does not name service ${claim.service}`;
  if (conn.name !== claim.id) return `connection ${claim.clientId} is named ${JSON.stringify(conn.name)}, not ${claim.id}`;
  if (conn.account !== account) return `connection ${claim.clientId} is in account ${JSON.stringify(conn.account)}, not ${JSON.stringify(account)}`;
  if (user !== undefined && conn.user !== user) return `connection ${claim.clientId} is user ${JSON.stringify(conn.user)}, not ${JSON.stringify(user)} of ${claim.service}`;
  return null;
}

export class MemberCheck {
  readonly #sys: NatsConnection;
  readonly #log: Logger;
  readonly #own: NatsConnection;
  /** The fleet's account, once the broker has said it; asked again after a failure. */
  #account: Promise<string> | null = null;
  readonly #users = new Map<string, string>();
  readonly #queue: { claim: MemberClaim; done: (s: MemberStanding) => void }[] = [];
  readonly #queued = new Set<string>();
  #inFlight = 0;
  readonly #refutedLog = new LogThrottle(REFUTED_LOG_PERIOD_MS);

  /**
   * `sys`: a system-account connection; `own`: the supervisor's own connection (its account is
   * the fleet's); `memberUsers`: the user of each service's workers, where known.
   */
  constructor(sys: NatsConnection, own: NatsConnection, memberUsers: Record<string, string>, log: Logger) {
    this.#sys = sys;
    this.#log = log;
    this.#own = own;
    for (const [service, user] of Object.entries(memberUsers)) this.#users.set(service, user);
  }

  /** The account of the supervisor's own connection; a failure refutes nobody and is asked again next time. */
  #accountOf(): Promise<string> {
    this.#account ??= (async () => {
      const info = this.#own.info;
      const c = await connectionInfo(this.#sys, info?.server_id ?? '', info?.client_id ?? 0);
      if (c === null) throw new Error('the broker does not know the supervisor\'s own connection');
      return c.account;
    })().catch((err: Error) => {
      this.#account = null;
      this.#log.warn({ err: err.message }, 'own account unknown yet: workers stay unchecked');
      throw err;
    });
    return this.#account;
  }

  /** Asks the broker about `claim` once; `done` gets the standing. False when the queue is full (ask again later). */
  enqueue(claim: MemberClaim, done: (standing: MemberStanding) => void): boolean {
    const key = `${claim.id} ${claim.serverId} ${claim.clientId}`;
    if (this.#queued.has(key)) return true;
    if (this.#queue.length >= MAX_QUEUED_CHECKS) return false;
    this.#queued.add(key);
    this.#queue.push({ claim, done: (s) => { this.#queued.delete(key); done(s); } });
    this.#pump();
    return true;
  }

  /** Asks the broker about `claim` now: 'verified', 'refuted', or 'unchecked' when it could not tell. */
  async standing(claim: MemberClaim): Promise<{ standing: MemberStanding; reason?: string }> {
    let conn: ConnectionInfo | null;
    let account: string;
    try {
      account = await this.#accountOf();
      conn = await connectionInfo(this.#sys, claim.serverId, claim.clientId);
    } catch (err) {
      return { standing: 'unchecked', reason: (err as Error).message };
    }
    const reason = refutation(conn, claim, account, this.#users.get(claim.service));
    if (reason !== null) return { standing: 'refuted', reason };
    if (!this.#users.has(claim.service) && this.#users.size < MAX_BOUND_SERVICES) this.#users.set(claim.service, conn!.user);
    return { standing: 'verified' };
  }

  /** Logs a refuted claim, at most once a second: a flood of made-up ids is not a flood of lines. */
  #refuted(claim: MemberClaim, reason: string | undefined): void {
    const suppressed = this.#refutedLog.take(Date.now());
    if (suppressed === null) return;
    this.#log.warn({ workerId: claim.id, service: claim.service, reason, suppressed }, 'heartbeat not backed by its connection: worker not verified');
  }

  #pump(): void {
    while (this.#inFlight < MAX_CONCURRENT_CHECKS && this.#queue.length > 0) {
      const { claim, done } = this.#queue.shift()!;
      this.#inFlight++;
      void this.standing(claim).then(({ standing, reason }) => {
        if (standing === 'refuted') this.#refuted(claim, reason);
        done(standing);
      }).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }
}
