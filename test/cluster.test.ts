/**
 * natsrpc on a 3-node NATS cluster started from the shipped config/nats/cluster.conf, with the
 * shipped least-privilege identities: load spreads over workers on every node, and a node killed
 * under load costs no call that the client can retry, recovers fast and rejoins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, RpcError, startWorker, type CallOptions, type RpcClient, type RpcWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import math from '../workers/math.js';
import { identity, startCluster, waitForRemoteInterest, type Cluster } from './helpers/cluster.js';
import { sleep, waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');

/**
 * Whether the client retries idempotent calls on its own (the `idempotent` call option). With
 * retries, a node kill must cost no call at all; without, every failure must be a typed,
 * retryable UNAVAILABLE or TIMEOUT.
 */
const CLIENT_RETRIES = false;
const IDEMPOTENT: CallOptions = CLIENT_RETRIES ? ({ idempotent: true } as CallOptions) : {};

/** A worker attached to node `i` (it may move to any node when that one dies). */
function workerOn(cluster: Cluster, i: number): Promise<RpcWorker> {
  return startWorker(math, { servers: cluster.urlsFrom(i), nats: { noRandomize: true }, ...identity('math'), logger: quiet });
}

function clientOn(cluster: Cluster, i: number, extra: { servers?: string[] } = {}): Promise<RpcClient> {
  return connect({ servers: cluster.urlsFrom(i), nats: { noRandomize: true }, ...identity('caller'), logger: quiet, ...extra });
}

const serverOf = (nc: { info?: { server_name: string } }) => nc.info?.server_name;

test('workers attached to different nodes all receive load from a client attached to one node', async () => {
  await using cluster = await startCluster();
  const workers = await Promise.all([0, 1, 2].map((i) => workerOn(cluster, i)));
  const client = await clientOn(cluster, 0);
  try {
    assert.deepEqual(workers.map((w) => serverOf(w.connection)), ['n1', 'n2', 'n3']);
    assert.equal(serverOf(client.connection), 'n1');
    await waitForRemoteInterest(cluster, 0, 'rpc.math.*', ['n2', 'n3']);
    const calls = 300;
    for (let i = 0; i < calls; i++) assert.equal(await client.call('math.add', { a: i, b: 1 }), i + 1);
    const served = workers.map((w) => w.stats.ok);
    assert.equal(served.reduce((a, b) => a + b, 0), calls);
    for (const [i, n] of served.entries()) assert.ok(n > 0, `worker on n${i + 1} served no call: ${served}`);
  } finally {
    await client.close();
    await Promise.all(workers.map((w) => w.stop()));
  }
});

interface Outcome {
  ok: number;
  failed: Record<string, number>;
  firstFailAt: number;
  lastFailAt: number;
}

/** Callers that call again as soon as a call ends, and back off 25 ms after a failure (as a sane caller would). */
function steadyLoad(client: RpcClient, loops: number, until: () => boolean, okTimes: number[]): Promise<Outcome> {
  const out: Outcome = { ok: 0, failed: {}, firstFailAt: 0, lastFailAt: 0 };
  let n = 0;
  const loop = async () => {
    while (!until()) {
      const i = n++;
      try {
        assert.equal(await client.call('math.add', { a: i, b: 2 }, { timeoutMs: 2_000, ...IDEMPOTENT }), i + 2);
        out.ok++;
        okTimes.push(Date.now());
      } catch (err) {
        if (!(err instanceof RpcError)) throw err;
        out.failed[err.code] = (out.failed[err.code] ?? 0) + 1;
        out.firstFailAt ||= Date.now();
        out.lastFailAt = Date.now();
        await sleep(25);
      }
    }
  };
  return Promise.all(Array.from({ length: loops }, loop)).then(() => out);
}

test('SIGKILL of a node under steady load: clients and workers move to the survivors; the node restarts and rejoins', async (t) => {
  await using cluster = await startCluster();
  const workers = await Promise.all([0, 1, 2].map((i) => workerOn(cluster, i)));
  const client = await clientOn(cluster, 0);
  let stop = false;
  const stopAt = Date.now() + 30_000; // bound, whatever happens
  const okTimes: number[] = [];
  try {
    await waitForRemoteInterest(cluster, 0, 'rpc.math.*', ['n2', 'n3']);
    const load = steadyLoad(client, 8, () => stop || Date.now() > stopAt, okTimes);
    await sleep(1_500);
    const before = workers.map((w) => w.stats.ok);
    assert.ok(before.every((n) => n > 0), `every worker serves before the kill: ${before}`);

    // The node that both the client and the first worker are attached to.
    const killedAt = Date.now();
    await cluster.nodes[0]!.stop('SIGKILL');
    const clientMoved = await waitFor(() => client.connection.info !== undefined && serverOf(client.connection) !== 'n1' && okTimes.at(-1)! > killedAt, 10_000);
    const recoveredMs = (okTimes.find((x) => x > killedAt) ?? Infinity) - killedAt;
    assert.ok(clientMoved, 'the client reconnects to a surviving node and calls succeed again');
    assert.ok(await waitFor(() => serverOf(workers[0]!.connection) !== 'n1', 10_000), 'the worker of the killed node reconnects elsewhere');
    const movedOk = workers[0]!.stats.ok;
    assert.ok(await waitFor(() => workers[0]!.stats.ok > movedOk, 10_000), 'the moved worker serves again from its new node');
    await sleep(1_000);

    // The killed node comes back on the same ports and rejoins the cluster.
    await cluster.nodes[0]!.restart();
    await cluster.waitFormed();
    const fresh = await clientOn(cluster, 0, { servers: [cluster.urls[0]!] });
    try {
      assert.equal(serverOf(fresh.connection), 'n1');
      await waitForRemoteInterest(cluster, 0, 'rpc.math.*', ['n2', 'n3']);
      assert.equal(await fresh.call('math.add', { a: 40, b: 2 }), 42, 'a client of the restarted node reaches workers on the others');
    } finally {
      await fresh.close();
    }
    await sleep(500);
    stop = true;
    const outcome = await load;
    const failedTotal = Object.values(outcome.failed).reduce((a, b) => a + b, 0);
    const figures = {
      ok: outcome.ok,
      failed: outcome.failed,
      failureWindowMs: failedTotal ? outcome.lastFailAt - outcome.firstFailAt : 0,
      recoveredMs,
      clientNow: serverOf(client.connection),
      workerNow: workers.map((w) => serverOf(w.connection)),
    };
    t.diagnostic(`node kill failover: ${JSON.stringify(figures)}`);
    if (CLIENT_RETRIES) {
      assert.equal(failedTotal, 0, `idempotent calls are retried: none may fail, got ${JSON.stringify(outcome.failed)}`);
    } else {
      for (const code of Object.keys(outcome.failed)) assert.ok(code === 'UNAVAILABLE' || code === 'TIMEOUT', `only typed, retryable failures: ${code}`);
    }
    assert.ok(outcome.ok > 0);
  } finally {
    stop = true;
    await client.close();
    await Promise.all(workers.map((w) => w.stop()));
  }
});
