/**
 * Is a worker's connection still there? One request to `<prefix>._ping.<service>.<workerId>`: the
 * worker answers it at once; when its connection is gone the broker answers `503` (no responders)
 * just as fast, which proves the worker is lost. No answer within the timeout proves nothing (a
 * busy or frozen worker). Probes of the same worker in flight at once are shared, except those a
 * census sends (census.ts): its answer must come after everything sent before it.
 */
import { decodeChecked } from '../protocol/codec.js';
import { pingSubject } from '../protocol/subjects.js';
import type { CallTransport, InboxEntry } from './transport.js';

/**
 * `alive`: the worker answered, after the acks of everything of this client it holds (its answer
 * says `census: true`), and is in its queue group; `outside`: the same, but it is not in its queue
 * group now (draining, drained, or full under leave-when-full): it takes no new requests;
 * `unordered`: it answered without the census promise (a worker that does not follow the census
 * rule); `gone`: the broker's 503; `unknown`: no answer in time.
 */
export type Liveness = 'alive' | 'outside' | 'unordered' | 'gone' | 'unknown';

/** A pong is a few dozen bytes; anything longer is no census answer. */
const MAX_PONG_BYTES = 512;

/** Reads its own messages: any answer but the broker's 503 means the worker's connection is there. */
class ProbeEntry implements InboxEntry {
  timer: unknown;
  resolve!: (state: Liveness) => void;
  readonly promise = new Promise<Liveness>((r) => (this.resolve = r));
  frame(data: Uint8Array, noResponders: boolean): void {
    this.resolve(noResponders ? 'gone' : pongState(data));
  }
  noResponders(): void {
    this.resolve('gone');
  }
  acked(): void {
    this.resolve('unordered');
  }
  replied(): void {
    this.resolve('unordered');
  }
  unreadable(): void {
    this.resolve('unordered');
  }
  lost(): void {
    this.resolve('unknown');
  }
  workerLost(): void {}
  checkAck(): void {}
}

function pongState(data: Uint8Array): Liveness {
  if (data.length > MAX_PONG_BYTES) return 'unordered';
  try {
    const pong = decodeChecked(data) as { census?: unknown; group?: unknown } | null;
    if (pong === null || typeof pong !== 'object' || pong.census !== true) return 'unordered';
    return pong.group === false ? 'outside' : 'alive';
  } catch {
    return 'unordered';
  }
}

export class LivenessProber {
  readonly #transport: CallTransport;
  readonly #inFlight = new Map<string, Promise<Liveness>>();
  /** Probes sent, for tests and metrics. */
  sent = 0;

  constructor(transport: CallTransport) {
    this.#transport = transport;
  }

  /** `fresh`: a probe of its own, sent now, rather than one already out. */
  probe(service: string, workerId: string, timeoutMs: number, fresh = false): Promise<Liveness> {
    if (fresh) return this.#send(service, workerId, timeoutMs);
    let p = this.#inFlight.get(workerId);
    if (p !== undefined) return p;
    p = this.#send(service, workerId, timeoutMs).finally(() => this.#inFlight.delete(workerId));
    this.#inFlight.set(workerId, p);
    return p;
  }

  async #send(service: string, workerId: string, timeoutMs: number): Promise<Liveness> {
    const t = this.#transport;
    if (!t.isConnected()) return 'unknown';
    const entry = new ProbeEntry();
    const token = t.open(entry);
    try {
      t.publish(pingSubject(t.prefix, service, workerId), new Uint8Array(0), t.replySubject(token));
      this.sent++;
    } catch {
      t.close(token);
      return 'unknown';
    }
    entry.timer = t.clock.setTimer(() => entry.resolve('unknown'), timeoutMs);
    const state = await entry.promise;
    t.clock.clearTimer(entry.timer);
    t.close(token);
    return state;
  }
}
