/**
 * Real nats-server processes for tests, disposable: `await using nats = await startNats()`.
 */
import { LocalNatsServer, type LocalServerOptions } from '../../src/broker/local-server.js';

export { LocalNatsServer };

export function startNats(opts: LocalServerOptions = {}): Promise<LocalNatsServer> {
  return LocalNatsServer.start(opts);
}

/**
 * Gives a started client, worker or connection a disposer, so that `await using` closes it when
 * the test ends, pass or fail: `await using client = closing(await connect(...), (c) => c.close())`.
 * Nothing is awaited between the start resolving and the disposer being attached, so a test that
 * fails at any later line still closes it.
 */
export function closing<T extends object>(value: T, close: (value: T) => Promise<unknown>): T & AsyncDisposable {
  return Object.assign(value, {
    [Symbol.asyncDispose]: async () => {
      await close(value);
    },
  });
}
