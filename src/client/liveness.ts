/**
 * Is a worker's connection still there? One request to `<prefix>._ping.<workerId>`: the worker
 * answers it at once; when its connection is gone the broker answers `503` (no responders) just
 * as fast, which proves the worker is lost. No answer within the timeout proves nothing (a busy
 * or frozen worker). Probes of the same worker in flight at once are shared.
 */
import { pingSubject } from '../protocol/subjects.js';
import type { CallTransport, InboxEntry } from './transport.js';

export type Liveness = 'alive' | 'gone' | 'unknown';

/** Any answer but the broker's 503 means the worker's connection is there. */
class ProbeEntry implements InboxEntry {
  timer: unknown;
  resolve!: (state: Liveness) => void;
  readonly promise = new Promise<Liveness>((r) => (this.resolve = r));
  noResponders(): void {
    this.resolve('gone');
  }
  acked(): void {
    this.resolve('alive');
  }
  replied(): void {
    this.resolve('alive');
  }
  unreadable(): void {
    this.resolve('alive'); // a pong is no reply envelope
  }
  lost(): void {
    this.resolve('unknown');
  }
  workerLost(): void {}
  checkAck(): void {}
}

export class LivenessProber {
  readonly #transport: CallTransport;
  readonly #inFlight = new Map<string, Promise<Liveness>>();
  /** Probes sent, for tests and metrics. */
  sent = 0;

  constructor(transport: CallTransport) {
    this.#transport = transport;
  }

  probe(service: string, workerId: string, timeoutMs: number): Promise<Liveness> {
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
