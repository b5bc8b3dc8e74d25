/**
 * `natsrpc broker` runs a local nats-server with the shipped configuration on the port it is given
 * (--port, else NATS_PORT), until SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import { freePort } from '../src/broker/local-server.js';
import { createLogger } from '../src/logging/logger.js';
import { closing } from './helpers/nats.js';
import { runCliProcess } from './helpers/cli.js';
import { ChildHandle } from './helpers/processes.js';

const quiet = createLogger('test', 'silent');

test('natsrpc broker serves on the port of --port or NATS_PORT until SIGTERM; a taken port is a clear error', async () => {
  const port = await freePort();
  await using broker = new ChildHandle(['broker'], { NATS_PORT: String(port) });
  await broker.waitForLine(/listening on nats:\/\/127\.0\.0\.1:\d+/);
  await using client = closing(await connect({ servers: `nats://127.0.0.1:${port}`, logger: quiet }), (c) => c.close());
  assert.equal(client.connection.info?.port, port);
  const taken = await runCliProcess({ args: ['broker', '--port', String(port)] });
  assert.equal(taken.code, 1);
  assert.match(taken.stderr, new RegExp(`did not start on port ${port}`));
  broker.signal('SIGTERM');
  assert.equal((await broker.exited).code, 0);
});
