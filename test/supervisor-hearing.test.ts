/**
 * A supervisor that cannot hear the bus judges nobody: the gate on its own connection, silence
 * counted only from when it could hear again (workers and other supervisors), and the bound on
 * kicks per sweep. Pure, without NATS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkerHeartbeat } from '../src/protocol/heartbeat.js';
import { FORGET_PEER_AFTER_INTERVALS, SupervisorPeers } from '../src/supervisor/election.js';
import { MAX_CONCURRENT_KICKS, MAX_KICKS_PER_SWEEP, selectKicks } from '../src/supervisor/fencing.js';
import { Hearing } from '../src/supervisor/hearing.js';
import { resolvePolicy } from '../src/supervisor/policy.js';
import { WorkerRegistry } from '../src/supervisor/registry.js';

const policy = resolvePolicy();

function hb(id: string, over: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat {
  return {
    v: 1, id, service: 'svc', version: '1.0.0', host: 'h', pid: 1, serverId: 'S', clientId: 1, state: 'serving',
    seq: 1, ts: 1, startedAt: 1, intervalMs: 1_000, inFlight: 0, concurrency: 8, received: 0, ok: 0, failed: {}, expired: 0,
    overruns: 0, consecutiveFaults: 0, p50Ms: 1, p99Ms: 2, loopDelayP99Ms: 10, stalledMs: 0, rssBytes: 1, overdue: 0, healthy: null,
    ...over,
  };
}

test('hearing: nobody is judged while disconnected, nor during the grace period after reconnecting', () => {
  const hearing = new Hearing(0, 3_000);
  assert.equal(hearing.judging(10), true, 'from the start: there is nobody heard yet to misjudge');
  hearing.disconnected();
  assert.equal(hearing.judging(20_000), false);
  hearing.reconnected(30_000);
  assert.equal(hearing.heardSince, 30_000);
  assert.equal(hearing.judging(32_999), false, 'grace after the reconnect');
  assert.equal(hearing.judging(33_000), true);
});

test('registry: silence the supervisor could not hear is not counted against a worker', () => {
  const reg = new WorkerRegistry(policy);
  reg.ingest(hb('svc-1'), 1_000);
  reg.ingest(hb('svc-2'), 1_000);
  // The supervisor was disconnected from 1,500 to 20,000: counted from 20,000 nobody is lost yet.
  assert.deepEqual(reg.sweep(22_000, 20_000), []);
  reg.ingest(hb('svc-1', { seq: 2 }), 22_500);
  // svc-2 stays silent 3 intervals after the supervisor hears again: that silence is its own.
  assert.deepEqual(reg.sweep(23_001, 20_000).map((r) => r.id), ['svc-2']);
  assert.equal(reg.get('svc-1')!.lost, false);
  // Without the bound (the old rule) every worker silent through the outage was lost.
  const naive = new WorkerRegistry(policy);
  naive.ingest(hb('svc-1'), 1_000);
  assert.deepEqual(naive.sweep(22_000).map((r) => r.id), ['svc-1']);
});

test('election: a leader heard before the outage is not deposed by it', () => {
  const peers = new SupervisorPeers();
  const self = { id: 'b', startedAt: 200, lastSeen: 0, intervalMs: 1_000 };
  peers.heard('a', 100, 1_000, 1_000);
  assert.equal(peers.elect({ ...self, lastSeen: 2_000 }, 2_000, 0, 3), 'a');
  // Disconnected from 1,500 to 8,000; at 9,000 the leader has had 1 s to be heard again.
  assert.equal(peers.elect({ ...self, lastSeen: 9_000 }, 9_000, 8_000, 3), 'a');
  assert.equal(peers.elect({ ...self, lastSeen: 11_001 }, 11_001, 8_000, 3), 'b', 'silent 3 intervals since: gone');
  assert.equal(peers.size, 1);
  peers.elect(self, 8_000 + FORGET_PEER_AFTER_INTERVALS * 1_000 + 1, 8_000, 3);
  assert.equal(peers.size, 0, 'forgotten after 10 of its intervals');
});

test('fencing: kicks per sweep and in flight are bounded; workers without broker ids are not kicked', () => {
  const reg = new WorkerRegistry(policy);
  for (let i = 0; i < 30; i++) reg.ingest(hb(`svc-${i}`, { clientId: i === 0 ? 0 : i }), 0);
  const lost = reg.sweep(10_000);
  assert.equal(lost.length, 30);
  const { kick, spared } = selectKicks(lost, 0);
  assert.equal(kick.length, MAX_KICKS_PER_SWEEP);
  assert.equal(spared.length, 29 - MAX_KICKS_PER_SWEEP, 'the one without a client id is neither');
  assert.ok(!kick.some((r) => r.id === 'svc-0'));
  assert.equal(selectKicks(lost, MAX_CONCURRENT_KICKS - 2).kick.length, 2);
  assert.equal(selectKicks(lost, MAX_CONCURRENT_KICKS).kick.length, 0);
});
