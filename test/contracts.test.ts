/**
 * Contracts: Standard Schema validators (zod here) on a worker's methods, checked by the worker
 * before the handler runs and, when asked, by the client before sending; the proxy's types come
 * from the same definition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ApiOf, type RpcError } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import resilient from './fixtures/resilient.js';
import { startNats } from './helpers/nats.js';
import { spawnWorker } from './helpers/processes.js';
import { sleep, waitFor } from './helpers/load.js';
import { eventsOf } from './helpers/events.js';

const quiet = createLogger('test', 'silent');

// Compile-time checks: the proxy's payload and result types come from the schemas.
type Api = ApiOf<typeof resilient>;
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const orderPayloadIsTyped: Equal<Parameters<Api['order']>[0], { sku: string; qty: number }> = true;
const orderResultIsTyped: Equal<Awaited<ReturnType<Api['order']>>, { total: number }> = true;
void orderPayloadIsTyped;
void orderResultIsTyped;

test('schema: invalid input gives BAD_REQUEST with the issues and the handler never runs (item 8)', async () => {
  await using nats = await startNats();
  await using worker = await spawnWorker('test/fixtures/resilient.ts', nats.url);
  const client = await connect({ servers: nats.url, logger: quiet });
  try {
    const shop = client.service(resilient);
    assert.deepEqual(await shop.order({ sku: 'A-1', qty: 2 }), { total: 6 });
    // The event line comes over the worker's stdout pipe, which may trail the reply on the bus.
    assert.ok(await waitFor(() => eventsOf([worker], 'order-ran').length === 1, 10_000), 'the handler ran');

    // Checked by the worker only: the bad payload travels and is refused before the handler.
    await assert.rejects(shop.order({ sku: '', qty: -1 } as never), (e: RpcError) => {
      assert.equal(e.code, 'BAD_REQUEST');
      assert.equal(e.retryable, false);
      const issues = (e.details as { issues: { message: string; path?: (string | number)[] }[] }).issues;
      assert.deepEqual(issues.map((i) => i.path).sort(), [['qty'], ['sku']]);
      for (const i of issues) assert.equal(typeof i.message, 'string');
      return true;
    });
    await assert.rejects(client.call('res.order', 'not an object'), (e: RpcError) => e.code === 'BAD_REQUEST');

    // Checked by the client too when asked: nothing is sent.
    const checked = client.service(resilient, { validate: true });
    await assert.rejects(checked.order({ sku: 'A-1', qty: 1.5 }), (e: RpcError) => {
      assert.equal(e.code, 'BAD_REQUEST');
      assert.match(e.message, /not sent/);
      assert.deepEqual((e.details as { issues: { path: string[] }[] }).issues[0]!.path, ['qty']);
      return true;
    });
    assert.deepEqual(await checked.order({ sku: 'B-2', qty: 1 }), { total: 3 });
    assert.ok(await waitFor(() => eventsOf([worker], 'order-ran').length >= 2, 10_000), 'the handler ran for the second valid call');
    await sleep(500); // a line for a refused call would have arrived by now
    assert.equal(eventsOf([worker], 'order-ran').length, 2, 'the handler ran for the two valid calls only');
  } finally {
    await client.close();
  }
});
