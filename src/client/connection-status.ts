/**
 * Whether a client's connection is up, from the connection's status events, and the calls waiting
 * for it to come back within their deadlines.
 */
import type { NatsConnection } from 'nats';

export class ConnectionStatus {
  readonly #nc: NatsConnection;
  /** True once the client is closing: never "connected" for a call again. */
  readonly #closing: () => boolean;
  #connected = true;
  #waiters: (() => void)[] = [];

  /** `onDisconnect`: the broker dropped the connection (no reply can reach the calls in flight). */
  constructor(nc: NatsConnection, closing: () => boolean, onDisconnect: () => void) {
    this.#nc = nc;
    this.#closing = closing;
    void this.#watch(onDisconnect);
  }

  /** Up, as far as the last status event said (the connection may still be closed for good). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Resolves true once connected (at once when it is), false after `timeoutMs` or when the client closes. */
  whenConnected(timeoutMs: number): Promise<boolean> {
    // A closing client is never "connected" for a call: answering true here would send it straight
    // back to a send that refuses it, a loop of microtasks.
    if (this.#nc.isClosed() || this.#closing()) return Promise.resolve(false);
    if (this.#connected) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve(this.#connected && !this.#closing());
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Wakes every call waiting for the connection (they see whether it is up, and the client closing). */
  wakeWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  async #watch(onDisconnect: () => void): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === 'disconnect') {
        this.#connected = false;
        onDisconnect();
      } else if (s.type === 'reconnect') {
        this.#connected = true;
        this.wakeWaiters();
      }
    }
  }
}
