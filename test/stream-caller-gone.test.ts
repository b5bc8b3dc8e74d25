/**
 * A stream whose caller vanishes without a cancel (its process SIGKILLed, or frozen until the broker
 * cuts its connection) ends promptly on the worker: the generator is returned (its `finally` runs)
 * with `ctx.signal` aborted as CANCELLED, the slot is free and the outcome is counted. Under the
 * shipped least-privilege identities (config/nats/accounts.conf: a service may subscribe to no
 * inbox), on one node and across the shipped 3-node cluster (caller and worker on different
 * nodes), as on an open broker, and whether the worker waits for credit (the caller stopped reading)
 * or for its generator (a slow one). The worker's deadline is 120 s, so an end by the deadline
 * cannot pass: the bound waited for is 60 s, and the time measured is reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as natsConnect, RequestStrategy, type NatsConnection } from 'nats';
import { connect } from '../src/index.js';
import { serviceEnv } from './helpers/attack.js';
import { identity, startCluster, startSingleNode, TEST_PASSWORDS, waitForRemoteInterest } from './helpers/cluster.js';
import { closing, startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';
import { ChildHandle, SCRIPT, spawnWorker } from './helpers/processes.js';
import { close, quiet } from './helpers/streams.js';

type State = { produced: number; finallyRuns: number; finallyAt: number; endedBy: string };

/** The worker's deadline for the stream: far longer than the wait for its end. */
const STREAM_TIMEOUT_MS = 120_000;
/** How long the test waits for the generator's end: well below the deadline. */
const END_BOUND_MS = 60_000;
const WINDOW_ITEMS = 4;

const CALLER_ENV = { NATS_USER: 'caller', NATS_PASS: TEST_PASSWORDS.NATS_CALLER_PASS, NATS_INBOX_PREFIX: '_INBOX_caller' };

interface Case {
  /** shipped: one node of the shipped config; cluster: the shipped 3 nodes, caller on n2, worker on n1. */
  broker: 'shipped' | 'cluster' | 'open';
  /** endless: the caller stops reading, the worker waits for credit; hold: the generator is busy. */
  method: 'endless' | 'hold';
  /** SIGKILL: the process dies, its connection closes; SIGSTOP: frozen, the broker cuts it (pings). */
  how: 'SIGKILL' | 'SIGSTOP';
}

const cases: Case[] = [
  { broker: 'shipped', method: 'endless', how: 'SIGKILL' },
  { broker: 'shipped', method: 'hold', how: 'SIGKILL' },
  { broker: 'shipped', method: 'endless', how: 'SIGSTOP' },
  { broker: 'cluster', method: 'endless', how: 'SIGKILL' },
  { broker: 'open', method: 'endless', how: 'SIGKILL' },
  { broker: 'open', method: 'hold', how: 'SIGKILL' },
];

for (const { broker, method, how } of cases) {
  const waiting = method === 'endless' ? 'waits for credit' : 'waits for its generator';
  test(`${broker} broker: the caller ${how === 'SIGKILL' ? 'SIGKILLed' : 'frozen (SIGSTOP)'} while the worker ${waiting}: the generator ends as CANCELLED, the slot is free`, async (t) => {
    const shipped = broker !== 'open';
    await using nats = await startBroker(broker);
    const url = nats.workerUrl;
    const workerEnv = shipped ? serviceEnv('echo') : {};
    const callerEnv = shipped ? CALLER_ENV : {};
    const as = shipped ? identity('caller') : {};
    await using _worker = await spawnWorker('test/fixtures/echo-streamer.ts', url, ['--concurrency', '2'], workerEnv);
    await nats.workerHeard();
    await using client = closing(await connect({ servers: url, ...as, logger: quiet }), close);
    const state = () => client.call<State>('echo.state');
    const before = await state();

    await using caller = new ChildHandle(['test/fixtures/stream-caller.ts', nats.callerUrl, `echo.${method}`, '{}', String(WINDOW_ITEMS), '1', String(STREAM_TIMEOUT_MS)], callerEnv, SCRIPT);
    await caller.waitForLine(/^\{"read":1\}$/, 30_000);
    // The caller read 1 of the window's items and returns no credit: the worker produced the
    // window and waits for credit (endless), or is in its generator's long sleep (hold).
    if (method === 'endless') assert.ok(await waitFor(async () => (await state()).produced >= WINDOW_ITEMS, 10_000), 'the worker used up the window');
    assert.equal((await state()).finallyRuns, before.finallyRuns, 'the stream is open before the caller vanishes');

    const vanishedAt = Date.now();
    caller.signal(how);
    let s!: State;
    const ended = await waitFor(async () => (s = await state()).finallyRuns > before.finallyRuns, END_BOUND_MS);
    assert.ok(ended, `the generator did not end within ${END_BOUND_MS} ms of the caller's ${how}`);
    assert.equal(s.endedBy, 'CANCELLED', 'ctx.signal was aborted as CANCELLED');
    t.diagnostic(`generator finally ran ${s.finallyAt - vanishedAt} ms after the caller's ${how} (worker deadline ${STREAM_TIMEOUT_MS} ms)`);

    // The outcome is counted: $SRV stats show the stream's end as a CANCELLED error.
    const stats = await endpointStats(url, shipped, method);
    assert.equal(stats.num_requests, 1);
    assert.equal(stats.num_errors, 1);
    assert.match(stats.last_error, /^CANCELLED: the caller of the stream is gone/);

    // Concurrency 2: a stream held open plus a call both fit only if the vanished caller's slot is free.
    const held = client.stream<{ i: number }>('echo.endless', {}, { window: { items: 1 } });
    assert.equal(((await held.next()).value as { i: number }).i, 0);
    assert.ok((await state()).finallyRuns > before.finallyRuns);
    await held.return();
  });
}

/** Where the worker and the caller connect, and how to wait until the caller's node knows the worker. */
async function startBroker(kind: Case['broker']): Promise<AsyncDisposable & { workerUrl: string; callerUrl: string; workerHeard(): Promise<void> }> {
  if (kind === 'cluster') {
    const cluster = await startCluster();
    return Object.assign(cluster, {
      workerUrl: cluster.urls[0]!,
      callerUrl: cluster.urls[1]!,
      workerHeard: () => waitForRemoteInterest(cluster, 1, 'rpc.echo.*', ['n1']),
    });
  }
  const node = kind === 'shipped' ? await startSingleNode() : await startNats();
  return Object.assign(node, { workerUrl: node.url, callerUrl: node.url, workerHeard: async () => undefined });
}

/** The `$SRV` stats of endpoint `method` of the one echo worker, read as a caller. */
async function endpointStats(url: string, shipped: boolean, method: string): Promise<{ num_requests: number; num_errors: number; last_error: string }> {
  const nc: NatsConnection = await natsConnect({ servers: url, ...(shipped ? identity('caller') : {}) });
  try {
    const answers = await nc.services.client({ strategy: RequestStrategy.Count, maxMessages: 1, maxWait: 5_000 }).stats('echo');
    for await (const answer of answers) {
      const endpoint = (answer as unknown as { endpoints: { name: string; num_requests: number; num_errors: number; last_error: string }[] }).endpoints.find((e) => e.name === method);
      assert.ok(endpoint !== undefined, `no stats for ${method}`);
      return endpoint;
    }
    throw new Error('no $SRV stats answer from the echo worker');
  } finally {
    await nc.close();
  }
}
