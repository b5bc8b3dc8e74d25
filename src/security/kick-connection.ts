/**
 * Fencing at the broker: a connection in the NATS system account can close any client connection
 * on any server of the cluster (`$SYS.REQ.SERVER.<server_id>.KICK`, nats-server 2.10+). The broker
 * then stops routing to that client at once: its queue-group subscriptions go with the
 * connection, even if the process behind it is frozen and would never notice. The server and
 * client ids come from the client's own `INFO` (`nc.info.server_id`, `nc.info.client_id`), which
 * natsrpc workers put in their heartbeats.
 */
import type { NatsConnection } from 'nats';
import { RpcError } from '../protocol/errors.js';

export const DEFAULT_KICK_TIMEOUT_MS = 2_000;

const SERVER_ID = /^[A-Z0-9]{56}$/;

/**
 * Asks server `serverId` to close its client connection `clientId`. `sys` must be connected as a
 * user of the system account. Rejects with `RpcError` `UNAVAILABLE` when the server does not
 * answer, or `BAD_REQUEST` when it refuses (unknown client, for one).
 *
 * @example
 * ```ts
 * await kickConnection(sysConnection, beat.serverId, beat.clientId);
 * ```
 */
export async function kickConnection(sys: NatsConnection, serverId: string, clientId: number, timeoutMs = DEFAULT_KICK_TIMEOUT_MS): Promise<void> {
  if (!SERVER_ID.test(serverId)) throw new TypeError(`serverId must be a nats-server id, received ${JSON.stringify(serverId)}`);
  if (!Number.isInteger(clientId) || clientId < 1) throw new TypeError(`clientId must be a positive integer, received ${clientId}`);
  let reply;
  try {
    reply = await sys.request(`$SYS.REQ.SERVER.${serverId}.KICK`, new TextEncoder().encode(JSON.stringify({ cid: clientId })), { timeout: timeoutMs });
  } catch (cause) {
    throw new RpcError('UNAVAILABLE', `server ${serverId} did not answer the kick of client ${clientId}: ${(cause as Error).message}`, { cause });
  }
  const body = JSON.parse(new TextDecoder().decode(reply.data)) as { error?: { code?: number; description?: string } };
  if (body.error) {
    throw new RpcError('BAD_REQUEST', `server ${serverId} refused to kick client ${clientId}: ${body.error.description ?? body.error.code}`);
  }
}
