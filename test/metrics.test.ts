/**
 * Prometheus metrics of the fleet: the exporter is scraped over HTTP and its figures match the
 * calls made, first with a fleet view built from the workers' own figures, then from a real
 * `natsrpc supervisor --metrics-port` fed by heartbeats, including the drains it commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, startWorker, type RpcWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { FleetMetrics, MAX_LABEL_VALUES, type WorkerMetricsInput } from '../src/metrics/fleet-metrics.js';
import math from '../workers/math.js';
import { drainReasonLabel } from '../src/supervisor/drain-reasons.js';
import { evaluateHealth, resolvePolicy } from '../src/supervisor/policy.js';
import type { WorkerHeartbeat } from '../src/protocol/heartbeat.js';
import { closing, startNats } from './helpers/nats.js';
import { sleep, startLoad, waitFor } from './helpers/load.js';
import { ChildHandle } from './helpers/processes.js';
import { BROKER_CONFIG, INTERVAL_MS, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';

const quiet = createLogger('test', 'silent');

/** The value of one sample line, e.g. `natsrpc_calls_total{service="math",worker="x",code="OK"}`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const got = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

test('metrics served over HTTP match the calls made: outcomes, latency, in-flight, state, drains, heartbeat age', async () => {
  await using nats = await startNats();
  const workers: RpcWorker[] = [await startWorker(math, { servers: nats.url, logger: quiet }), await startWorker(math, { servers: nats.url, logger: quiet })];
  const client = await connect({ servers: nats.url, logger: quiet });
  const drains = new Map<string, Record<string, number>>();
  const view = (): WorkerMetricsInput[] =>
    workers.map((w) => {
      const s = w.snapshot();
      return { service: w.service, id: w.id, state: w.state, inFlight: s.inFlight, ok: s.ok, failed: s.failed, p50Ms: s.p50Ms, p99Ms: s.p99Ms, heartbeatAgeMs: 1_500, drains: drains.get(w.id) ?? {} };
    });
  const metrics = new FleetMetrics(view);
  const port = await metrics.listen(0, '127.0.0.1');
  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    return res.text();
  };
  try {
    for (let i = 0; i < 20; i++) await client.call('math.add', { a: i, b: 1 });
    for (let i = 0; i < 3; i++) await assert.rejects(client.call('math.div', { a: 1, b: 0 }));
    const text = await scrape();
    let ok = 0;
    let divByZero = 0;
    for (const w of workers) {
      const l = { service: 'math', worker: w.id };
      const okHere = sample(text, 'natsrpc_calls_total', { ...l, code: 'OK' });
      assert.equal(okHere, w.stats.ok);
      ok += okHere!;
      divByZero += sample(text, 'natsrpc_calls_total', { ...l, code: 'DIVIDE_BY_ZERO' }) ?? 0;
      assert.equal(sample(text, 'natsrpc_worker_state', { ...l, state: 'serving' }), 1);
      assert.equal(sample(text, 'natsrpc_worker_state', { ...l, state: 'drained' }), 0);
      assert.equal(sample(text, 'natsrpc_in_flight', l), 0);
      assert.equal(sample(text, 'natsrpc_heartbeat_age_seconds', l), 1.5);
      assert.ok(sample(text, 'natsrpc_call_duration_ms', { ...l, quantile: '0.99' })! >= 0);
    }
    assert.equal(ok, 20);
    assert.equal(divByZero, 3);
    assert.equal(sample(text, 'natsrpc_workers', { service: 'math', state: 'serving' }), 2);

    // A drain, and the figures follow at the next scrape.
    await workers[0]!.drain();
    drains.set(workers[0]!.id, { 'error rate': 1 });
    await client.call('math.add', { a: 1, b: 1 });
    const after = await scrape();
    const l0 = { service: 'math', worker: workers[0]!.id };
    assert.equal(sample(after, 'natsrpc_worker_state', { ...l0, state: 'drained' }), 1);
    assert.equal(sample(after, 'natsrpc_drains_total', { ...l0, reason: 'error rate' }), 1);
    assert.equal(sample(after, 'natsrpc_calls_total', { service: 'math', worker: workers[1]!.id, code: 'OK' }), workers[1]!.stats.ok);
    assert.equal(sample(after, 'natsrpc_workers', { service: 'math', state: 'drained' }), 1);

    assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  } finally {
    await metrics.close();
    await client.close();
    await Promise.all(workers.map((w) => w.stop()));
  }
});

test('metrics labels stay bounded however many failure codes a worker reports', async () => {
  const failed = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`CODE_${i}`, 1]));
  const metrics = new FleetMetrics(() => [{ service: 's', id: 's-1', state: 'lost', inFlight: 0, ok: 0, failed, p50Ms: 0, p99Ms: 0, heartbeatAgeMs: 9_000, drains: {} }]);
  const text = await metrics.metrics();
  const codes = text.split('\n').filter((l) => l.startsWith('natsrpc_calls_total{') && !l.includes('code="OK"'));
  assert.equal(codes.length, MAX_LABEL_VALUES);
  assert.equal(sample(text, 'natsrpc_calls_total', { worker: 's-1', code: 'other' }), 100 - (MAX_LABEL_VALUES - 1));
  assert.equal(sample(text, 'natsrpc_worker_state', { worker: 's-1', state: 'lost' }), 1);
});

test('natsrpc supervisor --metrics-port: figures scraped from the supervisor match the calls made', async () => {
  await using nats = await startNats();
  const workers = [
    await startWorker(math, { servers: nats.url, logger: quiet, heartbeatIntervalMs: 200 }),
    await startWorker(math, { servers: nats.url, logger: quiet, heartbeatIntervalMs: 200 }),
  ];
  const client = await connect({ servers: nats.url, logger: quiet });
  await using supervisor = new ChildHandle(['supervisor', '--servers', nats.url, '--metrics-port', '0', '--metrics-host', '127.0.0.1']);
  try {
    const port = (JSON.parse(await supervisor.waitForLine(/"metrics listening"/)) as { port: number }).port;
    for (let i = 0; i < 20; i++) await client.call('math.add', { a: i, b: 1 });
    for (let i = 0; i < 3; i++) await assert.rejects(client.call('math.div', { a: 1, b: 0 }));
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const total = (text: string, code: string) => workers.reduce((sum, w) => sum + (sample(text, 'natsrpc_calls_total', { worker: w.id, code }) ?? 0), 0);
    let text = '';
    // Heartbeats carry the figures every 200 ms; wait for the ones sent after the last call.
    assert.ok(await waitFor(async () => {
      text = await scrape();
      return total(text, 'OK') === 20 && total(text, 'DIVIDE_BY_ZERO') === 3;
    }, 10_000), `scraped figures match the calls:\n${text.split('\n').filter((l) => l.startsWith('natsrpc_calls_total')).join('\n')}`);
    assert.equal(sample(text, 'natsrpc_workers', { service: 'math', state: 'serving' }), 2);
    for (const w of workers) {
      assert.equal(sample(text, 'natsrpc_worker_state', { worker: w.id, state: 'serving' }), 1);
      assert.ok(sample(text, 'natsrpc_heartbeat_age_seconds', { worker: w.id })! < 5);
      assert.equal(sample(text, 'natsrpc_in_flight', { worker: w.id }), 0);
      // Latency quantiles as the worker measured them, carried by its heartbeats.
      const { p50Ms, p99Ms } = w.snapshot();
      assert.ok(p99Ms > 0 && p50Ms > 0, 'the worker measured its calls');
      assert.equal(sample(text, 'natsrpc_call_duration_ms', { worker: w.id, quantile: '0.5' }), p50Ms);
      assert.equal(sample(text, 'natsrpc_call_duration_ms', { worker: w.id, quantile: '0.99' }), p99Ms);
    }
  } finally {
    await client.close();
    await Promise.all(workers.map((w) => w.stop()));
  }
});

test('natsrpc supervisor --metrics-port: drains counted by reason, each reason kept, never going down', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using sick = await spawnWard(nats.url);
  await using other = await spawnWard(nats.url);
  void other;
  // A short ejection window: the supervisor forgets old ejections, the counters must not.
  await using sup = await spawnSupervisor(nats.url, { baseEjectionMs: 1_000, ejectionWindowMs: 2 * INTERVAL_MS }, ['--metrics-port', '0', '--metrics-host', '127.0.0.1']);
  const port = (JSON.parse(await sup.waitForLine(/"metrics listening"/)) as { port: number }).port;
  const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const drains = async (reason: string) => sample(await scrape(), 'natsrpc_drains_total', { worker: sick.id, reason });
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());
  // One caller that keeps the workers busy; disposed (stopped) before the client closes.
  await using _load = startLoad(client, 'ward.work', () => null, { concurrency: 1, maxCalls: 1_000_000, maxDurationMs: 60_000, failurePauseMs: 10, call: { timeoutMs: 1_000 } });
  assert.ok(await rec.waitServing('ward', 2), 'the supervisor sees both workers');
  sick.setMode('fail');
  assert.ok(await rec.waitEvent('drain', sick.id, 10_000), 'drained for its faults');
  sick.setMode('ok');
  assert.ok(await waitFor(async () => (await drains('consecutive_faults')) === 1, 5_000), 'counted under consecutive_faults');
  assert.ok(await rec.waitEvent('resume', sick.id, 10_000), 'resumed after its ejection period');
  sick.setHealthy(false);
  assert.ok(await waitFor(() => rec.eventsOf('drain', sick.id).length === 2, 10_000), 'drained again, for its health check');
  assert.match(rec.eventsOf('drain', sick.id)[1]!.value.reason, /health check failing/);
  assert.ok(await waitFor(async () => (await drains('health_check')) === 1, 5_000), 'counted under health_check');
  await sleep(4 * INTERVAL_MS); // past the ejection window: the supervisor has forgotten both ejections
  const text = await scrape();
  assert.equal(sample(text, 'natsrpc_drains_total', { worker: sick.id, reason: 'consecutive_faults' }), 1, 'the first reason is kept');
  assert.equal(sample(text, 'natsrpc_drains_total', { worker: sick.id, reason: 'health_check' }), 1);
  assert.equal(sample(text, 'natsrpc_drains_total', { worker: other.id, reason: 'consecutive_faults' }), undefined, 'the healthy worker was never drained');
});

function heartbeatOf(): WorkerHeartbeat {
  return {
    v: 1, id: 'svc-1', service: 'svc', version: '1.0.0', host: 'h', pid: 1, serverId: 'S', clientId: 1, state: 'serving',
    seq: 1, ts: 1, startedAt: 1, intervalMs: 1_000, inFlight: 0, concurrency: 8, received: 0, ok: 0, failed: {}, expired: 0,
    overruns: 0, consecutiveFaults: 0, p50Ms: 1, p99Ms: 2, loopDelayP99Ms: 10, stalledMs: 0, rssBytes: 1, overdue: 0, healthy: null,
  };
}

test('drain reasons become a few fixed metric labels: the stable codes beside the text, never the text', () => {
  const policy = resolvePolicy({ maxStalledMs: 2_000 });
  const verdict = evaluateHealth({ hb: { ...heartbeatOf(), consecutiveFaults: 7, stalledMs: 4_000, healthy: false }, own: { calls: 0, faults: 0 }, peers: { calls: 0, faults: 0 } }, policy);
  assert.deepEqual(verdict.codes, ['consecutive_faults', 'stalled', 'health_check'], 'one code per reason, in the order of the reasons');
  assert.equal(verdict.codes.length, verdict.reasons.length);
  for (const code of verdict.codes) assert.equal(drainReasonLabel(code), code);
  assert.equal(drainReasonLabel('returned_after_lost'), 'returned_after_lost');
  assert.equal(drainReasonLabel('something_new'), 'other');
  assert.equal(drainReasonLabel(null), 'unknown');
});
