/**
 * Client resilience against real worker processes and a real broker: killed workers, rolling
 * restarts, waiting for workers, broker restarts, the retry budget and the query of death.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, defineWorker, RpcError, startWorker } from '../src/index.js';
import { QUERY_OF_DEATH_LOSSES } from '../src/client/call-engine.js';
import { createLogger } from '../src/logging/logger.js';
import { closing, startNats } from './helpers/nats.js';
import { ChildHandle, processGroup, spawnWorker } from './helpers/processes.js';
import { quantile, sleep, startLoad, waitFor } from './helpers/load.js';
import { eventsOf } from './helpers/events.js';

const quiet = createLogger('test', 'silent');
const FIXTURE = 'test/fixtures/resilient.ts';
const close = (c: { close(): Promise<void> }) => c.close();
/**
 * Starts `n` workers into `group`, whose disposal kills them. One after another: starting several
 * at once on a busy machine only slows each one down.
 */
async function spawnInto(group: ChildHandle[], n: number, url: string): Promise<void> {
  for (let i = 0; i < n; i++) group.push(await spawnWorker(FIXTURE, url));
}

test('SIGKILL one of 3 workers under load: idempotent calls all succeed; plain calls fail only as WORKER_LOST, none hangs (item 1)', async (t) => {
  await using nats = await startNats();
  await using workers = processGroup();
  await spawnInto(workers, 3, nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  // Idempotent: the calls the killed worker held are noticed (ack, then a liveness probe that
  // the broker answers with no-responders) and sent again.
  await using load = startLoad(client, 'res.work', () => ({ ms: 20 }), { concurrency: 12, maxDurationMs: 30_000, call: { idempotent: true, timeoutMs: 5_000 } });
  assert.ok(await waitFor(() => load.result.ok >= 300), 'load is flowing');
  workers[0]!.signal('SIGKILL');
  await workers[0]!.exited;
  const okAtKill = load.result.ok;
  await sleep(1_500);
  const result = await load.stop();
  assert.deepEqual(result.failed, {}, `no idempotent call fails: ${result.errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
  assert.ok(result.ok > okAtKill + 100, 'the other workers kept serving');
  const budget = client.retryBudget('res')!;
  t.diagnostic(
    `idempotent: ${result.ok} calls ok, 0 failed; p50 ${quantile(result.latencies, 0.5).toFixed(1)} ms, ` +
      `p99 ${quantile(result.latencies, 0.99).toFixed(1)} ms, max ${quantile(result.latencies, 1).toFixed(1)} ms; ` +
      `retries+resends ${budget.spent}, probes ${client.probesSent}`,
  );

  // Plain (not idempotent) calls: a call the killed worker held may have run, so it is not sent
  // again. One its handler had taken (late-acked) fails as soon as a probe finds the worker gone;
  // one still in the dead socket's buffer was never acknowledged, and fails once the client's
  // census has heard from every other worker (no supervisor runs here). Both WORKER_LOST, maybe
  // processed, none TIMEOUT.
  workers.push(await spawnWorker(FIXTURE, nats.url));
  const PLAIN_DEADLINE_MS = 3_000;
  await using plain = startLoad(client, 'res.work', () => ({ ms: 20 }), { concurrency: 12, maxDurationMs: 30_000, call: { timeoutMs: PLAIN_DEADLINE_MS } });
  assert.ok(await waitFor(() => plain.result.ok >= 300), 'plain load is flowing');
  workers[1]!.signal('SIGKILL');
  await workers[1]!.exited;
  await sleep(1_500);
  const r2 = await plain.stop();
  for (const code of Object.keys(r2.failed)) assert.equal(code, 'WORKER_LOST', `only WORKER_LOST: ${JSON.stringify(r2.failed)}`);
  for (const e of r2.errors) assert.ok(e.maybeProcessed);
  const slowest = quantile(r2.latencies, 1);
  assert.ok(slowest < PLAIN_DEADLINE_MS + 500, `no call outlives its ${PLAIN_DEADLINE_MS} ms deadline by much: slowest ${slowest} ms`);
  t.diagnostic(`plain: ${r2.ok} ok, failed ${JSON.stringify(r2.failed)}, slowest call ${slowest.toFixed(0)} ms (deadline ${PLAIN_DEADLINE_MS} ms)`);
});

test('rolling restart of all 3 workers (SIGTERM, then a new one) under load: zero failed calls (item 2)', async () => {
  await using nats = await startNats();
  await using workers = processGroup();
  await spawnInto(workers, 3, nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  await using load = startLoad(client, 'res.work', () => ({ ms: 10 }), { concurrency: 12, maxDurationMs: 60_000 });
  assert.ok(await waitFor(() => load.result.ok >= 200), 'load is flowing');
  for (let i = 0; i < 3; i++) {
    const old = workers[i]!;
    old.signal('SIGTERM');
    assert.deepEqual(await old.exited, { code: 0, signal: null });
    workers[i] = await spawnWorker(FIXTURE, nats.url);
  }
  const before = load.result.ok;
  assert.ok(await waitFor(() => load.result.ok >= before + 200), 'the new workers serve');
  const result = await load.stop();
  assert.deepEqual(result.failed, {}, `no call fails: ${result.errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
});

test('waitForWorkers succeeds once a worker starts; without it NO_RESPONDERS at once (item 3)', async () => {
  await using nats = await startNats();
  await using workers = processGroup();
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const started = performance.now();
  await assert.rejects(client.call('res.work', { ms: 1 }), (e: RpcError) => e.code === 'NO_RESPONDERS' && !e.maybeProcessed);
  assert.ok(performance.now() - started < 1_000, 'NO_RESPONDERS comes at once (a few quick retries, no waiting)');
  const waiting = client.call<{ pid: number }>('res.work', { ms: 1 }, { waitForWorkers: true, timeoutMs: 20_000 });
  await sleep(300);
  workers.push(await spawnWorker(FIXTURE, nats.url));
  const { pid } = await waiting;
  assert.equal(pid, workers[0]!.pid);
});

test('broker restart under load: idempotent calls all succeed, plain calls fail fast with UNAVAILABLE, waitForConnection waits (item 3)', async (t) => {
  await using nats = await startNats();
  await using workers = processGroup();
  await spawnInto(workers, 2, nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  await using idem = startLoad(client, 'res.work', () => ({ ms: 10 }), { concurrency: 8, maxDurationMs: 60_000, call: { idempotent: true, timeoutMs: 15_000 } });
  await using plain = startLoad(client, 'res.work', () => ({ ms: 10 }), { concurrency: 4, maxDurationMs: 60_000, call: { timeoutMs: 5_000 }, failurePauseMs: 5 });
  assert.ok(await waitFor(() => idem.result.ok >= 200 && plain.result.ok >= 100), 'load is flowing');
  const restarted = nats.restart();
  // During the outage: a call that asks to wait for the connection gets through after it.
  let waited: Promise<unknown> | undefined;
  assert.ok(
    await waitFor(async () => {
      try {
        await client.call('res.work', { ms: 1 }, { timeoutMs: 1_000 });
        return false;
      } catch (e) {
        if ((e as RpcError).code !== 'UNAVAILABLE') return false;
        waited ??= client.call('res.work', { ms: 1 }, { waitForConnection: true, timeoutMs: 15_000 });
        return true;
      }
    }, 10_000),
    'the outage is seen',
  );
  await restarted;
  assert.ok(await waited, 'a call made during the outage with waitForConnection succeeds');
  const after = idem.result.ok;
  assert.ok(await waitFor(() => idem.result.ok >= after + 200, 15_000), 'calls flow again after the restart');
  const r1 = await idem.stop();
  const r2 = await plain.stop();
  assert.deepEqual(r1.failed, {}, `no idempotent call fails: ${r1.errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
  // Right after the client reconnects, the workers may not have subscribed again yet: the broker
  // then answers NO_RESPONDERS, the typed code for exactly that.
  for (const code of Object.keys(r2.failed)) {
    assert.ok(code === 'UNAVAILABLE' || code === 'NO_RESPONDERS', `plain calls fail only with UNAVAILABLE or NO_RESPONDERS: ${JSON.stringify(r2.failed)}`);
  }
  assert.ok((r2.failed.UNAVAILABLE ?? 0) > 0, 'some plain calls met the outage');
  const slowest = quantile(r2.latencies, 1);
  assert.ok(slowest < 2_000, `no plain call waits out its 5,000 ms timeout: slowest ${slowest} ms`);
  t.diagnostic(`idempotent ${r1.ok} ok; plain ${r2.ok} ok, failed ${JSON.stringify(r2.failed)}, slowest ${slowest.toFixed(0)} ms; idempotent slowest ${quantile(r1.latencies, 1).toFixed(0)} ms`);
});

test('retry budget: every worker answers OVERLOADED; attempts counted on the workers stay within 10% + burst (item 4)', async (t) => {
  await using nats = await startNats();
  // Two workers of concurrency 1, each held full by one call that waits on a gate: every other
  // request is refused by the runtime with OVERLOADED, before any handler runs, which is what makes
  // it safe (and tempting) to retry. The workers run in this process so their refusal counts can be read.
  const gates: Array<() => void> = [];
  const def = defineWorker({ service: 'full', methods: { hold: () => new Promise<void>((r) => gates.push(r)), any: () => 'served' } });
  await using a = closing(await startWorker(def, { servers: nats.url, logger: quiet, concurrency: 1, heartbeat: false }), (w) => w.stop());
  await using b = closing(await startWorker(def, { servers: nats.url, logger: quiet, concurrency: 1, heartbeat: false }), (w) => w.stop());
  await using filler = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const holds: Array<Promise<unknown>> = [];
  try {
    for (let i = 0; i < 200 && (a.inFlight < 1 || b.inFlight < 1); i++) {
      holds.push(filler.call('full.hold', null, { timeoutMs: 60_000 }).catch(() => undefined));
      await waitFor(() => a.inFlight + b.inFlight >= Math.min(2, holds.length), 200);
    }
    assert.ok(a.inFlight === 1 && b.inFlight === 1, 'both workers are full');
    const refused = () => (a.snapshot().failed.OVERLOADED ?? 0) + (b.snapshot().failed.OVERLOADED ?? 0);
    const before = refused();
    // A fresh client: its retry budget starts at the burst, untouched by the filling above.
    await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
    const calls = 300;
    await using load = startLoad(client, 'full.any', () => null, { concurrency: 6, maxCalls: calls });
    const result = await load.done;
    assert.deepEqual(result.failed, { OVERLOADED: calls });
    const attempts = refused() - before;
    const bound = calls * (1 + 0.1) + 10;
    assert.ok(attempts > calls, `some calls were retried: ${attempts} attempts`);
    assert.ok(attempts <= bound, `${attempts} attempts for ${calls} calls exceeds the budget bound ${bound} (3 attempts each would be ${calls * 3})`);
    t.diagnostic(`${calls} calls, ${attempts} attempts counted on the workers (bound ${bound}, unthrottled would be ${calls * 3})`);
  } finally {
    for (const open of gates.splice(0)) open();
    await Promise.all(holds);
  }
});

test('query of death: a payload that kills its worker, sent idempotent to 4 workers: exactly 2 die, the caller gets QUERY_OF_DEATH (item 9)', async (t) => {
  await using nats = await startNats();
  await using workers = processGroup();
  await spawnInto(workers, 4, nats.url);
  // A loss is counted only once an attempt was acknowledged and its worker then found gone, so
  // QUERY_OF_DEATH_LOSSES losses take that many dead workers, and with one attempt out at a time
  // the call stops right there. A second attempt goes out early only when an ack is late past
  // lostWorker.ackTimeoutMs (250 ms by default, which a stall of this shared machine can exceed):
  // that attempt kills one more worker. The long ack timeout here rules that out, so one more death
  // can only mean an ack that never left the dying worker, which the worker promises to send
  // before it runs the handler: for the later attempts (`ack: true`), and for the first one here
  // too, since it is this caller's first request at its worker, which is due a presence ack before
  // its handler (a first attempt only asks for a late ack).
  await using client = closing(await connect({ servers: nats.url, logger: quiet, lostWorker: { ackTimeoutMs: 8_000 } }), close);
  const started = performance.now();
  await assert.rejects(client.call('res.poison', null, { idempotent: true, timeoutMs: 10_000 }), (e: RpcError) => {
    assert.equal(e.code, 'QUERY_OF_DEATH', e.message);
    assert.equal(e.retryable, false);
    assert.equal(e.maybeProcessed, true);
    return true;
  });
  const elapsed = performance.now() - started;
  const deadCount = () => workers.filter((w) => w.child.exitCode !== null || w.child.signalCode !== null).length;
  // The broker has seen both connections close (that is how the client knew); the exits reach
  // this process a moment later.
  await waitFor(() => deadCount() >= QUERY_OF_DEATH_LOSSES, 5_000);
  await sleep(1_000); // a further death would show by now
  const dead = deadCount();
  assert.equal(dead, QUERY_OF_DEATH_LOSSES, `${dead} workers died`);
  assert.equal(eventsOf(workers, 'poisoned').length, dead);
  // The survivors still serve.
  assert.ok(await client.call('res.work', { ms: 1 }));
  t.diagnostic(`QUERY_OF_DEATH after ${elapsed.toFixed(0)} ms; ${dead} of 4 workers died`);
});
