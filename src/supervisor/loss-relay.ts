/**
 * Relaying worker loss from the broker: a supervisor with a system-account connection hears every
 * client disconnect (`$SYS.ACCOUNT.<account>.DISCONNECT`), and when the connection is the serving
 * connection of a worker it knows (by the server id and client id of the worker's latest
 * heartbeat), it declares that worker lost at once and (when leading) publishes the `lost` event on
 * `<prefix>._evt.<service>`, so clients end the calls the worker held instead of waiting for their
 * deadlines. The advisory is hostile input like any other: bounded, parsed defensively, and only
 * ever matched against what heartbeats said.
 */
import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from '../logging/logger.js';
import type { Supervisor } from './supervisor.js';

/** The subject of every account's client disconnect advisories. */
export const DISCONNECT_ADVISORIES = '$SYS.ACCOUNT.*.DISCONNECT';
/** Advisories are a few hundred bytes; anything larger is ignored unread. */
export const MAX_ADVISORY_BYTES = 65_536;

const SERVER_ID = /^[A-Z0-9]{56}$/;
const decoder = new TextDecoder();

/** The server id and client id of a client disconnect advisory, or null when it is not one. */
export function parseDisconnect(data: Uint8Array): { serverId: string; clientId: number } | null {
  if (data.length > MAX_ADVISORY_BYTES) return null;
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(data));
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null) return null;
  const { server, client } = body as { server?: { id?: unknown }; client?: { id?: unknown } };
  const serverId = server?.id;
  const clientId = client?.id;
  if (typeof serverId !== 'string' || !SERVER_ID.test(serverId)) return null;
  if (typeof clientId !== 'number' || !Number.isSafeInteger(clientId) || clientId < 1) return null;
  return { serverId, clientId };
}

export class DisconnectRelay {
  readonly #sub: Subscription;

  /** `sys` is a connection of a system-account user. */
  constructor(supervisor: Supervisor, sys: NatsConnection, log: Logger) {
    let ignored = 0;
    this.#sub = sys.subscribe(DISCONNECT_ADVISORIES, {
      callback: (err, msg) => {
        if (err !== null) return;
        const closed = parseDisconnect(msg.data);
        if (closed === null) {
          if (ignored++ === 0) log.warn({ subject: msg.subject }, 'malformed disconnect advisory ignored (further ones are not logged)');
          return;
        }
        supervisor.connectionClosed(closed.serverId, closed.clientId);
      },
    });
  }

  /** Stops listening (the connection is the caller's). */
  close(): void {
    this.#sub.unsubscribe();
  }
}
