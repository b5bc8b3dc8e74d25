/**
 * natsrpc on a 3-node NATS cluster started from the shipped config/nats/cluster.conf, with the
 * shipped least-privilege identities: load spreads over workers on every node, and a node killed
 * under a load of idempotent calls costs no call; the node restarts and rejoins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, RpcError, startWorker, type CallOptions, type RpcClient, type RpcWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import math from '../workers/math.js';
import { identity, startCluster, waitForRemoteInterest, type Cluster } from './helpers/cluster.js';
import { sleep, waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');

/** The load's calls are idempotent: the client retries them, so a node kill must cost no call. */
const IDEMPOTENT: CallOptions = { idempotent: true };

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
  /** [sent, settled] wall-clock ms of each successful call. */
  ok: [number, number][];
  /** Code and wall-clock ms of each failed call. */
  failed: [string, number][];
}

/** Callers that call again as soon as a call ends, and back off 25 ms after a failure (as a sane caller would). */
function steadyLoad(client: RpcClient, loops: number, until: () => boolean, out: Outcome): Promise<void> {
  let n = 0;
  const loop = async () => {
    while (!until()) {
      const i = n++;
      const sent = Date.now();
      try {
        assert.equal(await client.call('math.add', { a: i, b: 2 }, { timeoutMs: 2_000, ...IDEMPOTENT }), i + 2);
        out.ok.push([sent, Date.now()]);
      } catch (err) {
        if (!(err instanceof RpcError)) throw err;
        out.failed.push([err.code, Date.now()]);
        await sleep(25);
      }
    }
  };
  return Promise.all(Array.from({ length: loops }, loop)).then(() => undefined);
}

/** Failures between `from` and `to` by code, and how long after `from` the first call sent after it succeeded. */
function figures(out: Outcome, from: number, to: number) {
  const failed: Record<string, number> = {};
  for (const [code, at] of out.failed) if (at >= from && at < to) failed[code] = (failed[code] ?? 0) + 1;
  const firstOk = Math.min(...out.ok.filter(([sent]) => sent > from).map(([, settled]) => settled));
  const settled = out.ok.filter(([, t]) => t >= from && t < to);
  // With retries the cost of a kill shows as the slowest call around it.
  const slowestCallMs = Math.max(0, ...settled.map(([sent, t]) => t - sent));
  return { failed, firstOkAfterMs: firstOk - from, slowestCallMs, okInWindow: settled.length };
}

function assertNoFailures(failed: Record<string, number>, what: string): void {
  assert.deepEqual(failed, {}, `${what}: idempotent calls are retried, none may fail`);
}

test('SIGKILL of a node under steady load: clients and workers move to the survivors; the node restarts and rejoins', async (t) => {
  await using cluster = await startCluster();
  const workers = await Promise.all([0, 1, 2].map((i) => workerOn(cluster, i)));
  const client = await clientOn(cluster, 0);
  let stop = false;
  const stopAt = Date.now() + 40_000; // bound, whatever happens
  const out: Outcome = { ok: [], failed: [] };
  let load: Promise<void> | undefined;
  try {
    await waitForRemoteInterest(cluster, 0, 'rpc.math.*', ['n2', 'n3']);
    load = steadyLoad(client, 8, () => stop || Date.now() > stopAt, out);
    await sleep(1_500);
    const before = workers.map((w) => w.stats.ok);
    assert.ok(before.every((n) => n > 0), `every worker serves before the kill: ${before}`);

    // 1. The node that both the client and the first worker are attached to.
    const kill1 = Date.now();
    await cluster.nodes[0]!.stop('SIGKILL');
    assert.ok(await waitFor(() => serverOf(client.connection) !== 'n1' && out.ok.some(([sent]) => sent > kill1), 10_000),
      'the client reconnects to a surviving node and calls succeed again');
    assert.ok(await waitFor(() => serverOf(workers[0]!.connection) !== 'n1', 10_000), 'the worker of the killed node reconnects elsewhere');
    const movedOk = workers[0]!.stats.ok;
    assert.ok(await waitFor(() => workers[0]!.stats.ok > movedOk, 10_000), 'the moved worker serves again from its new node');
    const workerBackMs = Date.now() - kill1;
    await sleep(2_500); // longer than the call timeout: every call sent before the kill has ended
    const end1 = Date.now();

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

    // 2. A node with only a worker on it: requests already routed there are lost with it.
    let reconnected3 = 0;
    void (async () => {
      for await (const st of workers[2]!.connection.status()) if (st.type === 'reconnect') reconnected3 ||= Date.now();
    })();
    const kill3 = Date.now();
    await cluster.nodes[2]!.stop('SIGKILL');
    const movedOk3 = workers[2]!.stats.ok;
    assert.ok(await waitFor(() => serverOf(workers[2]!.connection) !== 'n3' && workers[2]!.stats.ok > movedOk3, 10_000),
      'the worker of the killed node serves again from a surviving node');
    const worker3BackMs = Date.now() - kill3;
    await sleep(2_500);
    stop = true;
    await load;
    const end3 = Date.now();

    const clientNode = { ...figures(out, kill1, end1), workerBackMs };
    const rejoin = figures(out, end1, kill3);
    const workerNode = { ...figures(out, kill3, end3), workerReconnectedMs: reconnected3 - kill3, workerBackMs: worker3BackMs };
    t.diagnostic(`kill of the client's node: ${JSON.stringify(clientNode)}`);
    t.diagnostic(`restart and rejoin of that node: ${JSON.stringify(rejoin)}`);
    t.diagnostic(`kill of a worker-only node: ${JSON.stringify(workerNode)}`);
    t.diagnostic(`whole run: ${out.ok.length} calls ok, ${out.failed.length} failed`);
    assertNoFailures(clientNode.failed, 'kill of the client node');
    assertNoFailures(rejoin.failed, 'restart and rejoin of the killed node');
    assertNoFailures(workerNode.failed, 'kill of a worker node');
    assert.ok(clientNode.okInWindow > 0 && workerNode.okInWindow > 0);
  } finally {
    stop = true;
    await load?.catch(() => undefined);
    await client.close();
    await Promise.all(workers.map((w) => w.stop()));
  }
});
