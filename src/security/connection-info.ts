/**
 * Asking the broker who holds a client connection: a connection in the NATS system account can
 * read any server's connection list (`$SYS.REQ.SERVER.<server_id>.CONNZ`, the monitoring `connz`
 * over the bus), filtered to one client id, with the connection's name, user and account. The
 * supervisor checks heartbeats against it (see supervisor/member-check.ts) before it counts,
 * commands or kicks a worker.
 */
import type { NatsConnection } from 'nats';
import { RpcError } from '../protocol/errors.js';

export const DEFAULT_CONNZ_TIMEOUT_MS = 2_000;
/** A CONNZ reply for one connection is a few KiB; anything larger is refused unread. */
export const MAX_CONNZ_REPLY_BYTES = 262_144;

const SERVER_ID = /^[A-Z0-9]{56}$/;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** What the broker says of one client connection. Empty strings where it says nothing. */
export interface ConnectionInfo {
  cid: number;
  name: string;
  /** The user it authenticated as (`authorized_user`); empty on a broker without users. */
  user: string;
  account: string;
}

/**
 * The connection `clientId` of server `serverId`, or null when that server has no such open
 * connection. `sys` must be a system-account connection. Rejects with `RpcError` `UNAVAILABLE`
 * when the server does not answer, `BAD_REQUEST` when its reply is not a CONNZ reply.
 */
export async function connectionInfo(sys: NatsConnection, serverId: string, clientId: number, timeoutMs = DEFAULT_CONNZ_TIMEOUT_MS): Promise<ConnectionInfo | null> {
  if (!SERVER_ID.test(serverId) || !Number.isSafeInteger(clientId) || clientId < 1) return null;
  let reply;
  try {
    reply = await sys.request(`$SYS.REQ.SERVER.${serverId}.CONNZ`, encoder.encode(JSON.stringify({ cid: clientId, auth: true })), { timeout: timeoutMs });
  } catch (cause) {
    throw new RpcError('UNAVAILABLE', `server ${serverId} did not answer CONNZ for client ${clientId}: ${(cause as Error).message}`, { cause });
  }
  if (reply.data.length > MAX_CONNZ_REPLY_BYTES) throw new RpcError('BAD_REQUEST', `CONNZ reply of ${reply.data.length} bytes from ${serverId}`);
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(reply.data));
  } catch (cause) {
    throw new RpcError('BAD_REQUEST', `CONNZ reply from ${serverId} is not JSON`, { cause });
  }
  const data = (body as { data?: { connections?: unknown } } | null)?.data;
  if (data === undefined || data === null || !Array.isArray(data.connections)) {
    throw new RpcError('BAD_REQUEST', `CONNZ reply from ${serverId} has no connection list`);
  }
  for (const c of data.connections as Record<string, unknown>[]) {
    if (c?.cid !== clientId) continue;
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    return { cid: clientId, name: text(c.name), user: text(c.authorized_user), account: text(c.account) };
  }
  return null;
}
