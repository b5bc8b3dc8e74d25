/**
 * SIGKILL of one of two real worker processes under many closed-loop callers, with long deadlines
 * and no supervisor: every call the dead worker took ends at once, found by the client's census
 * (src/client/census.ts), not at its deadline. Plain calls fail only as WORKER_LOST (maybe
 * processed), never TIMEOUT; idempotent calls do not fail at all. And a rolling restart under the
 * same plain load (workers that drain and close their connections) fails no call: a worker that
 * left is not taken for a lost one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type RpcError } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { closing, startNats } from './helpers/nats.js';
import { processGroup, spawnWorker, type ChildHandle } from './helpers/processes.js';
import { startLoad, waitFor, type LoadResult } from './helpers/load.js';

const quiet = createLogger('test', 'silent');
const FIXTURE = 'test/fixtures/resilient.ts';
const CALLERS = 64;
/** Long enough that a call left to its deadline would show as TIMEOUT and hold the test up. */
const DEADLINE_MS = 15_000;
const close = (c: { close(): Promise<void> }) => c.close();

function describe(r: LoadResult): string {
  return `${r.ok} ok, failed ${JSON.stringify(r.failed)}: ${r.errors.slice(0, 5).map((e: RpcError) => `${e.code}: ${e.message}`).join('; ')}`;
}

async function killOneUnderLoad(idempotent: boolean, t: { diagnostic(s: string): void }): Promise<LoadResult> {
  await using nats = await startNats();
  await using workers = processGroup();
  for (let i = 0; i < 2; i++) workers.push(await spawnWorker(FIXTURE, nats.url));
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  // The echo handler answers in the turn it reads the request: a plain call gets no ack, so at the
  // kill the calls in the dead worker's socket are attributed to no worker.
  await using load = startLoad(client, 'res.echo', (i) => ({ i }), { concurrency: CALLERS, maxCalls: 100_000_000, maxDurationMs: 120_000, call: { timeoutMs: DEADLINE_MS, idempotent } });
  assert.ok(await waitFor(() => load.result.ok >= 3_000, 30_000), 'load is flowing');
  const killedAt = performance.now();
  workers[0]!.signal('SIGKILL');
  await workers[0]!.exited;
  const okAtKill = load.result.ok;
  assert.ok(await waitFor(() => load.result.ok >= okAtKill + 3_000, 30_000), `the other worker serves: ${describe(load.result)}`);
  const result = await load.stop();
  t.diagnostic(`${idempotent ? 'idempotent' : 'plain'}: ${describe(result)}; stopped ${(performance.now() - killedAt).toFixed(0)} ms after the kill; probes ${client.probesSent}`);
  return result;
}

test('SIGKILL of one of two workers under 64 plain callers: every failed call is WORKER_LOST (maybe processed), none TIMEOUT, none hangs', async (t) => {
  const result = await killOneUnderLoad(false, t);
  for (const code of Object.keys(result.failed)) assert.equal(code, 'WORKER_LOST', describe(result));
  for (const e of result.errors) assert.equal(e.maybeProcessed, true, `${e.code}: ${e.message}`);
});

test('SIGKILL of one of two workers under 64 idempotent callers: no call fails', async (t) => {
  const result = await killOneUnderLoad(true, t);
  assert.deepEqual(result.failed, {}, describe(result));
});

test('rolling restart under 64 plain callers (a new worker first, then SIGTERM of an old one; and the other way round): no call fails, no WORKER_LOST', async (t) => {
  await using nats = await startNats();
  await using workers = processGroup();
  for (let i = 0; i < 2; i++) workers.push(await spawnWorker(FIXTURE, nats.url));
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  await using load = startLoad(client, 'res.echo', (i) => ({ i }), { concurrency: CALLERS, maxCalls: 100_000_000, maxDurationMs: 120_000, call: { timeoutMs: DEADLINE_MS } });
  assert.ok(await waitFor(() => load.result.ok >= 2_000, 30_000), 'load is flowing');
  const stopOld = async (old: ChildHandle) => {
    old.signal('SIGTERM');
    assert.deepEqual(await old.exited, { code: 0, signal: null });
    const ok = load.result.ok;
    assert.ok(await waitFor(() => load.result.ok >= ok + 1_000, 30_000), `the others serve: ${describe(load.result)}`);
  };
  // A new worker joins, then an old one drains and leaves.
  workers.push(await spawnWorker(FIXTURE, nats.url));
  await stopOld(workers[0]!);
  // An old one leaves, then a new one joins in its place.
  await stopOld(workers[1]!);
  workers.push(await spawnWorker(FIXTURE, nats.url));
  const ok = load.result.ok;
  assert.ok(await waitFor(() => load.result.ok >= ok + 2_000, 30_000), `the new workers serve: ${describe(load.result)}`);
  const result = await load.stop();
  t.diagnostic(`${describe(result)}; probes ${client.probesSent}`);
  assert.deepEqual(result.failed, {}, describe(result));
});

test('the whole fleet replaced under plain load (both workers SIGTERMed, two new ones started at once; callers wait for workers): no call fails', async (t) => {
  await using nats = await startNats();
  await using workers = processGroup();
  for (let i = 0; i < 2; i++) workers.push(await spawnWorker(FIXTURE, nats.url));
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  await using load = startLoad(client, 'res.echo', (i) => ({ i }), {
    concurrency: CALLERS,
    maxCalls: 100_000_000,
    maxDurationMs: 120_000,
    call: { timeoutMs: 60_000, waitForWorkers: true },
  });
  assert.ok(await waitFor(() => load.result.ok >= 2_000, 30_000), 'load is flowing');
  // The client heard from both old workers; the new ones it has never heard from when their first
  // calls arrive, and the old ones are found gone only then: their losses must not take the new
  // workers' unread calls with them.
  for (const old of workers.slice(0, 2)) old.signal('SIGTERM');
  for (const old of workers.slice(0, 2)) assert.deepEqual(await old.exited, { code: 0, signal: null });
  workers.push(...(await Promise.all([spawnWorker(FIXTURE, nats.url), spawnWorker(FIXTURE, nats.url)])));
  const ok = load.result.ok;
  assert.ok(await waitFor(() => load.result.ok >= ok + 3_000, 30_000), `the new workers serve: ${describe(load.result)}`);
  const result = await load.stop();
  t.diagnostic(`${describe(result)}; probes ${client.probesSent}`);
  assert.deepEqual(result.failed, {}, describe(result));
});
