/**
 * Fencing lost workers at the broker: when the leading supervisor declares a worker lost (its
 * heartbeats stopped), it kicks the worker's connection through the system account, by the server
 * and client ids of the worker's last heartbeat, so the broker stops routing requests into a
 * process that is frozen rather than dead. A worker that thaws reconnects by itself.
 *
 * Heartbeats are claims: only a worker the broker verified is kicked, and right before the kick
 * the broker is asked again that the connection still is that worker (its name, user and account,
 * see member-check.ts), so a forged heartbeat naming another connection never gets it kicked.
 */
import type { NatsConnection } from 'nats';
import type { Logger } from '../logging/logger.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { kickConnection } from '../security/kick-connection.js';
import type { MemberCheck } from './member-check.js';
import type { WorkerRecord } from './registry.js';
import type { KickCounts, Supervisor } from './supervisor.js';

/** Kicks at most this many connections at once. */
export const MAX_CONCURRENT_KICKS = 16;
/**
 * Kicks at most this many of the workers one sweep declares lost: many lost together is a broker
 * or network problem, not workers, and kicking them all would only make it worse.
 */
export const MAX_KICKS_PER_SWEEP = 8;

/** Which of the workers one sweep declared lost to kick, given the kicks still in flight. Pure. */
export function selectKicks(lost: WorkerRecord[], inFlight: number): { kick: WorkerRecord[]; spared: WorkerRecord[] } {
  const fenceable = lost.filter((rec) => rec.hb.serverId !== '' && rec.hb.clientId >= 1);
  const room = Math.max(0, Math.min(MAX_KICKS_PER_SWEEP, MAX_CONCURRENT_KICKS - inFlight));
  return { kick: fenceable.slice(0, room), spared: fenceable.slice(room) };
}

/** At most one "not kicked" log line per this period, with a count of the rest. */
const NOT_KICKED_LOG_PERIOD_MS = 1_000;

export class LostWorkerFencing {
  readonly #sys: NatsConnection;
  readonly #check: MemberCheck;
  readonly #log: Logger;
  #inFlight = 0;
  readonly #counts: KickCounts = { kicked: 0, refused: 0, failed: 0 };
  readonly #notKickedLog = new LogThrottle(NOT_KICKED_LOG_PERIOD_MS);

  /** `sys` is a connection of a system-account user; `supervisor` says who leads and who is lost. */
  constructor(supervisor: Supervisor, sys: NatsConnection, check: MemberCheck, log: Logger) {
    this.#sys = sys;
    this.#check = check;
    this.#log = log;
    // The supervisor sweeps only while it hears the bus, so its own disconnection never gets
    // healthy workers kicked.
    supervisor.onLost((all) => {
      if (!supervisor.leader) return;
      const lost = all.filter((rec) => rec.member === 'verified');
      const { kick, spared } = selectKicks(lost, this.#inFlight);
      if (spared.length > 0) {
        this.#log.warn({ workerIds: spared.map((r) => r.id), lost: lost.length, maxPerSweep: MAX_KICKS_PER_SWEEP }, 'lost workers not kicked: too many lost at once');
      }
      for (const rec of kick) this.#kick(rec);
    });
  }

  /** A copy of the counts so far. */
  get counts(): KickCounts {
    return { ...this.#counts };
  }

  /** Once per loss (the sweep reports a worker lost once); every request bounded by its timeout; never throws. */
  #kick(rec: WorkerRecord): void {
    const { serverId, clientId } = rec.hb;
    this.#inFlight++;
    this.#check.standing({ id: rec.id, service: rec.service, serverId, clientId }).then(async ({ standing, reason }) => {
      if (standing !== 'verified') {
        // A forged heartbeat naming another connection, or the worker reconnected or is gone already.
        this.#counts.refused++;
        return this.#notKicked(rec, `its connection is not that worker's now: ${reason ?? standing}`);
      }
      await kickConnection(this.#sys, serverId, clientId);
      this.#counts.kicked++;
      this.#log.warn({ workerId: rec.id, service: rec.service, serverId, clientId }, 'lost worker kicked at the broker');
    }).catch((err: Error) => {
      this.#counts.failed++;
      this.#notKicked(rec, err.message);
    }).finally(() => this.#inFlight--);
  }

  #notKicked(rec: WorkerRecord, reason: string): void {
    const suppressed = this.#notKickedLog.take(Date.now());
    if (suppressed !== null) this.#log.info({ workerId: rec.id, service: rec.service, reason, suppressed }, 'lost worker not kicked');
  }
}
