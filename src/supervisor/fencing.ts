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
import { kickConnection } from '../security/kick-connection.js';
import type { MemberCheck } from './member-check.js';
import type { WorkerRecord } from './registry.js';
import type { Supervisor } from './supervisor.js';

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

export class LostWorkerFencing {
  readonly #sys: NatsConnection;
  readonly #check: MemberCheck;
  readonly #log: Logger;
  #inFlight = 0;
  /** Kicks done, for tests and status. */
  kicked = 0;

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

  #kick(rec: WorkerRecord): void {
    const { serverId, clientId } = rec.hb;
    this.#inFlight++;
    this.#check.standing({ id: rec.id, service: rec.service, serverId, clientId }).then(async ({ standing, reason }) => {
      if (standing !== 'verified') throw new Error(`its connection is not that worker's now: ${reason ?? standing}`);
      await kickConnection(this.#sys, serverId, clientId);
    }).then(
      () => {
        this.kicked++;
        this.#log.warn({ workerId: rec.id, service: rec.service, serverId, clientId }, 'lost worker kicked at the broker');
      },
      // The worker may have reconnected (new client id) or be gone already: nothing to fence.
      (err: Error) => this.#log.info({ workerId: rec.id, err: err.message }, 'lost worker not kicked'),
    ).finally(() => this.#inFlight--);
  }
}
