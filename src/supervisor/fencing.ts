/**
 * Fencing lost workers at the broker: when the leading supervisor declares a worker lost (its
 * heartbeats stopped), it kicks the worker's connection through the system account, by the server
 * and client ids of the worker's last heartbeat, so the broker stops routing requests into a
 * process that is frozen rather than dead. A worker that thaws reconnects by itself.
 */
import type { NatsConnection } from 'nats';
import type { Logger } from '../logging/logger.js';
import { kickConnection } from '../security/kick-connection.js';
import type { Supervisor } from './supervisor.js';

/** Kicks at most this many connections at once; a mass loss is a broker or network problem, not workers. */
export const MAX_CONCURRENT_KICKS = 16;

export class LostWorkerFencing {
  readonly #sys: NatsConnection;
  readonly #log: Logger;
  #inFlight = 0;
  /** Kicks done, for tests and status. */
  kicked = 0;

  /** `sys` is a connection of a system-account user; `supervisor` says who leads and who is lost. */
  constructor(supervisor: Supervisor, sys: NatsConnection, log: Logger) {
    this.#sys = sys;
    this.#log = log;
    supervisor.registry.onEvent((event, rec) => {
      if (event !== 'lost' || !supervisor.leader || rec.hb.serverId === '' || rec.hb.clientId < 1) return;
      if (this.#inFlight >= MAX_CONCURRENT_KICKS) {
        this.#log.warn({ workerId: rec.id }, 'lost worker not kicked: too many kicks in flight');
        return;
      }
      this.#inFlight++;
      kickConnection(this.#sys, rec.hb.serverId, rec.hb.clientId).then(
        () => {
          this.kicked++;
          this.#log.warn({ workerId: rec.id, service: rec.service, serverId: rec.hb.serverId, clientId: rec.hb.clientId }, 'lost worker kicked at the broker');
        },
        // The worker may have reconnected (new client id) or be gone already: nothing to fence.
        (err: Error) => this.#log.info({ workerId: rec.id, err: err.message }, 'lost worker not kicked'),
      ).finally(() => this.#inFlight--);
    });
  }
}
