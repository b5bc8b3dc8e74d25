/**
 * Which worker holds which broker connection, by the server id and client id its latest heartbeat
 * names: how a disconnect advisory (see loss-relay.ts) is matched to a worker. Bounded by the
 * registry: one entry per worker at most.
 */
import type { WorkerHeartbeat } from '../protocol/heartbeat.js';

const keyOf = (serverId: string, clientId: number) => `${serverId} ${clientId}`;

export class ConnectionIndex {
  readonly #ids = new Map<string, string>();

  /** The id of the worker whose latest heartbeat names this connection. */
  get(serverId: string, clientId: number): string | undefined {
    return this.#ids.get(keyOf(serverId, clientId));
  }

  /** Follows a worker's heartbeats: `before` is its previous one (null for its first). */
  update(id: string, hb: WorkerHeartbeat, before: WorkerHeartbeat | null): void {
    if (before !== null && before.serverId === hb.serverId && before.clientId === hb.clientId) return;
    if (before !== null) this.remove(id, before);
    if (hb.serverId !== '' && hb.clientId >= 1) this.#ids.set(keyOf(hb.serverId, hb.clientId), id);
  }

  /** Forgets the connection `hb` names, if it is still `id`'s. */
  remove(id: string, hb: WorkerHeartbeat): void {
    const key = keyOf(hb.serverId, hb.clientId);
    if (this.#ids.get(key) === id) this.#ids.delete(key);
  }
}
