/**
 * Real nats-server processes for tests, disposable: `await using nats = await startNats()`.
 */
import { LocalNatsServer, type LocalServerOptions } from '../../src/broker/local-server.js';

export { LocalNatsServer };

export function startNats(opts: LocalServerOptions = {}): Promise<LocalNatsServer> {
  return LocalNatsServer.start(opts);
}
