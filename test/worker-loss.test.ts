/**
 * Worker loss ends calls at once, whichever way the client learns it: here the supervisor's
 * `lost` verdict on `<prefix>._evt.<service>` (as it publishes for a frozen or silent worker, or
 * relays for a broker disconnect), against a real broker and real workers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, defineWorker, RpcError, startWorker } from '../src/index.js';
import { encode } from '../src/protocol/codec.js';
import { eventSubject } from '../src/protocol/subjects.js';
import { createLogger } from '../src/logging/logger.js';
import { closing, startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');
const stop = (w: { stop(): Promise<void> }) => w.stop();
const close = (c: { close(): Promise<void> }) => c.close();

/** A worker whose handler holds every call until its signal fires, like a frozen process. */
const holding = defineWorker({
  service: 'held',
  methods: { run: (_: null, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted'))) },
});
const answering = defineWorker({ service: 'held', methods: { run: () => 'from the other worker' } });

function lostEvent(workerId: string, service = 'held'): Uint8Array {
  return encode({ v: 1, ts: Date.now(), supervisor: 'test-supervisor', kind: 'lost', service, workerId, reason: 'no heartbeat' });
}

test('the supervisor declares a worker lost: the plain call it held fails at once with WORKER_LOST; an idempotent one is served elsewhere', async () => {
  await using nats = await startNats();
  await using frozen = closing(await startWorker(holding, { servers: nats.url, logger: quiet, heartbeat: false, drainTimeoutMs: 2_000 }), stop);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  await using events = closing(await connect({ servers: nats.url, logger: quiet }), close);

  const plain = client.call('held.run', null, { timeoutMs: 30_000 });
  const plainOutcome = plain.then(() => null, (e: RpcError) => e);
  const idempotent = client.call('held.run', null, { timeoutMs: 30_000, idempotent: true });
  assert.ok(await waitFor(() => frozen.inFlight === 2), 'the worker holds both calls');
  await using _other = closing(await startWorker(answering, { servers: nats.url, logger: quiet, heartbeat: false }), stop);

  // An event for another service, or malformed bytes, end nothing.
  events.connection.publish(eventSubject('rpc', 'held'), lostEvent(frozen.id, 'other'));
  events.connection.publish(eventSubject('rpc', 'held'), new Uint8Array([0xc1]));
  await events.connection.flush();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(frozen.inFlight, 2);

  // The supervisor also drains (or kicks) a worker it declares lost: out of the queue group, so a
  // resend cannot land on it again.
  const leaving = frozen.drain();
  assert.ok(await waitFor(() => frozen.state === 'draining'));
  await frozen.connection.flush();
  events.connection.publish(eventSubject('rpc', 'held'), lostEvent(frozen.id));
  const err = await plainOutcome;
  assert.ok(err instanceof RpcError, 'the plain call failed');
  assert.equal(err.code, 'WORKER_LOST');
  assert.equal(err.maybeProcessed, true);
  assert.equal(err.retryable, false);
  assert.equal(await idempotent, 'from the other worker');
  await leaving;
});
