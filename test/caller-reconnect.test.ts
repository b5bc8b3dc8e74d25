/**
 * Callers whose connection drops and comes back on another node (their node killed, on the shipped
 * 3-node cluster) tell the workers of what they gave up on once they are back.
 *
 * A stream's caller whose connection drops and comes back on another node (its node killed, on the
 * shipped 3-node cluster): frames the worker sent during the gap are lost, so the stream ends at
 * once with UNAVAILABLE (maybe processed) instead of waiting for its idle timeout, and the worker is
 * told once the caller is back: its generator ends as CANCELLED, not at the stream's deadline (after
 * the reconnect its probes find the caller's inbox subscribed again, so they cannot tell).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type RpcError } from '../src/index.js';
import { serviceEnv } from './helpers/attack.js';
import { identity, startCluster, waitForRemoteInterest } from './helpers/cluster.js';
import { closing } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';
import { spawnWorker } from './helpers/processes.js';
import { close, quiet } from './helpers/streams.js';

type State = { produced: number; finallyRuns: number; finallyAt: number; endedBy: string; callsHeld: number; callsEnded: number; callEndedAt: number; callEndedBy: string };

/** The stream's deadline and idle timeout: far longer than the waits below. */
const STREAM_TIMEOUT_MS = 120_000;
const BOUND_MS = 60_000;

test('shipped cluster: a stream whose caller reconnects to another node ends at once with UNAVAILABLE, and its generator as CANCELLED', async (t) => {
  await using scene = await startScene();
  const { cluster, caller, state } = scene;
  const before = await state();

  const stream = caller.stream<{ i: number }>('echo.endless', {}, { window: { items: 4 }, timeoutMs: STREAM_TIMEOUT_MS, idleTimeoutMs: STREAM_TIMEOUT_MS });
  assert.equal(((await stream.next()).value as { i: number }).i, 0);
  assert.ok(await waitFor(async () => (await state()).produced >= 4, 10_000), 'the worker used up the window');

  const killedAt = Date.now();
  await cluster.nodes[1]!.stop('SIGKILL');
  // Read on until the stream ends: it must end by the dropped connection, not by its idle timeout.
  const ended = (async () => {
    for (;;) await stream.next();
  })().catch((e: RpcError) => e);
  const err = await Promise.race([ended, new Promise<null>((r) => setTimeout(r, BOUND_MS, null).unref())]);
  assert.ok(err !== null, `the stream did not end within ${BOUND_MS} ms of its caller's node dying`);
  assert.equal(err.code, 'UNAVAILABLE');
  assert.equal(err.maybeProcessed, true);

  let s!: State;
  const generatorEnded = await waitFor(async () => (s = await state()).finallyRuns > before.finallyRuns, BOUND_MS);
  assert.ok(generatorEnded, `the generator did not end within ${BOUND_MS} ms of the caller's reconnect`);
  assert.equal(s.endedBy, 'CANCELLED');
  t.diagnostic(`stream ended on the caller (${err.message}); generator ended ${s.finallyAt - killedAt} ms after the node's SIGKILL`);
});

/**
 * A plain call's caller whose connection drops ends the call at once (TIMEOUT, maybe processed:
 * the reply could not reach it) and, once reconnected, cancels it on its worker: before, the
 * cancel was dropped while disconnected and the handler ran on to its budget (its caller probes
 * find the inbox subscribed again after the reconnect).
 */
test('shipped cluster: a plain call whose caller reconnects to another node is cancelled on its worker', async (t) => {
  await using scene = await startScene();
  const { cluster, caller, state } = scene;
  const before = await state();

  const call = caller.call('echo.holdCall', {}, { timeoutMs: STREAM_TIMEOUT_MS }).catch((e: RpcError) => e);
  assert.ok(await waitFor(async () => (await state()).callsHeld > before.callsHeld, 10_000), 'the worker runs the call');
  const killedAt = Date.now();
  await cluster.nodes[1]!.stop('SIGKILL');
  const err = await Promise.race([call, new Promise<null>((r) => setTimeout(r, BOUND_MS, null).unref())]);
  assert.ok(err instanceof Error, `the call did not end within ${BOUND_MS} ms of its caller's node dying`);
  assert.equal((err as RpcError).maybeProcessed, true);

  let s!: State;
  const handlerEnded = await waitFor(async () => (s = await state()).callsEnded > before.callsEnded, BOUND_MS);
  assert.ok(handlerEnded, `the handler did not end within ${BOUND_MS} ms of the caller's reconnect`);
  // The cancel says deadline (the caller ended the call as TIMEOUT); a probe that caught the
  // caller's gap would say CANCELLED. Either way the handler's signal was aborted.
  assert.ok(['TIMEOUT', 'CANCELLED'].includes(s.callEndedBy), s.callEndedBy);
  t.diagnostic(`call ended on the caller (${(err as RpcError).code}); handler ended by ${s.callEndedBy} ${s.callEndedAt - killedAt} ms after the node's SIGKILL`);
});

/**
 * The shipped 3-node cluster with an echo worker on n1, an observer client on n1 and the caller
 * connected to n2 only (it learns the other nodes from the cluster and reconnects to one of them).
 */
async function startScene() {
  const held: AsyncDisposable[] = [];
  const dispose = async () => {
    for (const d of held.splice(0).reverse()) await d[Symbol.asyncDispose]();
  };
  try {
    const cluster = await startCluster();
    held.push(cluster);
    const [n1, n2] = cluster.urls as [string, string];
    held.push(await spawnWorker('test/fixtures/echo-streamer.ts', n1, [], serviceEnv('echo')));
    await waitForRemoteInterest(cluster, 1, 'rpc.echo.*', ['n1']);
    const observer = closing(await connect({ servers: n1, ...identity('caller'), logger: quiet }), close);
    held.push(observer);
    const caller = closing(await connect({ servers: n2, ...identity('caller'), logger: quiet }), close);
    held.push(caller);
    return { cluster, caller, state: () => observer.call<State>('echo.state'), [Symbol.asyncDispose]: dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}
