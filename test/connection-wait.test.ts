/**
 * Calls that wait for the broker connection (`waitForConnection`) end in UNAVAILABLE when it does
 * not come back in time, and at once when the client is closed: never a TIMEOUT, never a close()
 * held until their deadlines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, RpcError } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');

test('waitForConnection: a broker that stays down ends the call in UNAVAILABLE at its deadline; close() ends the waiting calls at once', async () => {
  await using nats = await startNats();
  const client = await connect({ servers: nats.url, logger: quiet, deadlinePolicy: false });
  let closed = false;
  try {
    const disconnected = new Promise<void>((resolve) => {
      void (async () => {
        for await (const s of client.connection.status()) if (s.type === 'disconnect') return resolve();
      })();
    });
    await nats.stop();
    await disconnected;

    const err = await client.call('any.method', null, { timeoutMs: 1_000, waitForConnection: true }).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, 'UNAVAILABLE', err.message);
    assert.equal(err.maybeProcessed, false, 'it was never sent');

    // Deadlines of a minute: only the close can end these calls quickly.
    const waiting = Array.from({ length: 3 }, () => client.call('any.method', null, { timeoutMs: 60_000, waitForConnection: true }).catch((e: unknown) => e));
    let closeDone = false;
    void client.close().then(() => (closeDone = true));
    closed = true;
    let timer: NodeJS.Timeout | undefined;
    const results = await Promise.race([Promise.all(waiting), new Promise<null>((r) => (timer = setTimeout(() => r(null), 20_000)))]);
    clearTimeout(timer);
    assert.ok(results !== null, 'the waiting calls ended long before their deadlines');
    for (const e of results) {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, 'UNAVAILABLE');
    }
    assert.ok(await waitFor(() => closeDone, 20_000), 'close() resolved');
  } finally {
    if (!closed) await client.close();
  }
});
