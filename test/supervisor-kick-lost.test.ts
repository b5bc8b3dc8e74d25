/**
 * `kickLost`: a supervisor with system-account rights (`fencing`) closes, at the broker, the
 * connection of a worker it declares lost by heartbeat silence, so a frozen process stops getting
 * requests; after SIGCONT the worker reconnects by itself and is seen returning. With
 * `kickLost: false` nothing is kicked, and a forged heartbeat naming another worker's connection
 * never gets that connection kicked. Real broker (with a system account), real worker processes;
 * what the broker says (CONNZ) and the supervisor's typed counts are asserted, not timings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { startSupervisor } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { connectionInfo } from '../src/security/connection-info.js';
import { closing, startNats } from './helpers/nats.js';
import { sleep, waitFor } from './helpers/load.js';
import { forgedHeartbeat, publishHeartbeat } from './helpers/attack.js';
import { INTERVAL_MS, Recorder, spawnWard, type Ward } from './helpers/supervision.js';

const SYS_CONFIG = `accounts { APP { users: [ { user: app, password: app } ] }, SYS { users: [ { user: sys, password: sys-secret } ] } }\n` +
  `system_account: SYS\nno_auth_user: app\n`;
const quietLog = createLogger('test', 'silent');
const fencing = { user: 'sys', pass: 'sys-secret' };

/** The connection `ward`'s latest heartbeat names. */
function connectionOf(rec: Recorder, ward: Ward): { serverId: string; clientId: number } {
  const hb = rec.beatsOf(ward.id).at(-1)!.value;
  return { serverId: hb.serverId, clientId: hb.clientId };
}

async function sysConnection(url: string) {
  const nc = await connect({ servers: url, user: 'sys', pass: 'sys-secret' });
  return closing(nc, (c) => c.close());
}

test('kickLost: a frozen worker declared lost has its connection closed by the broker; after SIGCONT it reconnects and returns', async (t) => {
  await using nats = await startNats({ configText: SYS_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using frozen = await spawnWard(nats.url);
  await using other = await spawnWard(nats.url);
  await using sys = await sysConnection(nats.url);
  await using sup = closing(await startSupervisor({ servers: nats.url, intervalMs: INTERVAL_MS, logger: quietLog, fencing }), (s) => s.close());
  assert.ok(await waitFor(async () => {
    const s = await rec.status().catch(() => null);
    return s?.services.find((x) => x.service === 'ward')?.workers.filter((w) => w.state === 'serving' && w.member === 'verified').length === 2;
  }, 25_000), 'the supervisor verifies both workers');
  const was = connectionOf(rec, frozen);
  assert.ok(await connectionInfo(sys, was.serverId, was.clientId), 'the broker holds the worker\'s connection');
  try {
    frozen.handle.signal('SIGSTOP');
    const lost = await rec.waitEvent('lost', frozen.id, 15_000, sup.id);
    assert.ok(lost, 'the frozen worker is declared lost');
    assert.equal(lost.value.code, 'heartbeat_silence');
    let closedAt = 0;
    assert.ok(await waitFor(async () => {
      if ((await connectionInfo(sys, was.serverId, was.clientId)) !== null) return false;
      closedAt = Date.now();
      return true;
    }, 15_000), 'the broker closed the frozen worker\'s connection while the process is still stopped');
    assert.deepEqual(sup.kicks, { kicked: 1, refused: 0, failed: 0 }, 'kicked once, for this loss');
    const keep = connectionOf(rec, other);
    assert.ok(await connectionInfo(sys, keep.serverId, keep.clientId), 'the other worker\'s connection is untouched');
    t.diagnostic(`connection gone at most ${closedAt - lost.at} ms after the lost event was seen`);

    frozen.handle.signal('SIGCONT');
    assert.ok(await rec.waitEvent('returned', frozen.id, 25_000, sup.id), 'after SIGCONT it reconnects and is seen returning');
    // Its first heartbeat after the thaw may still name the old connection (built before the reconnect).
    // A thawed client may also drop its first new connection (its pings went unanswered while frozen) and reconnect once more.
    assert.ok(await waitFor(async () => {
      const now = connectionOf(rec, frozen);
      return now.clientId !== was.clientId && (await connectionInfo(sys, now.serverId, now.clientId)) !== null;
    }, 15_000), 'its heartbeats name a new connection, which the broker holds');
    assert.equal(sup.kicks?.kicked, 1, 'its return is not kicked');
  } finally {
    frozen.handle.signal('SIGCONT');
  }
});

test('kickLost: false kicks nothing; a forged heartbeat naming a worker\'s connection never gets it kicked', async () => {
  await using nats = await startNats({ configText: SYS_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using frozen = await spawnWard(nats.url);
  await using other = await spawnWard(nats.url);
  await using sys = await sysConnection(nats.url);
  // Not kicking: the frozen worker keeps its connection after it is declared lost.
  {
    await using quiet = closing(await startSupervisor({ servers: nats.url, intervalMs: INTERVAL_MS, logger: quietLog, fencing, kickLost: false }), (s) => s.close());
    assert.equal(quiet.kicks, null, 'a supervisor that does not kick');
    assert.ok(await rec.waitServing('ward', 2), 'the supervisor sees both workers');
    const was = connectionOf(rec, frozen);
    try {
      frozen.handle.signal('SIGSTOP');
      assert.ok(await rec.waitEvent('lost', frozen.id, 15_000, quiet.id), 'the frozen worker is declared lost');
      await sleep(4 * INTERVAL_MS);
      assert.ok(await connectionInfo(sys, was.serverId, was.clientId), 'its connection is still open at the broker');
    } finally {
      frozen.handle.signal('SIGCONT');
    }
  }
  // Kicking, attacked: heartbeats under a made-up id name the other worker's connection, then stop.
  await using sup = closing(await startSupervisor({ servers: nats.url, intervalMs: INTERVAL_MS, logger: quietLog, fencing }), (s) => s.close());
  assert.ok(await waitFor(async () => {
    const s = await rec.status().catch(() => null);
    return s?.supervisor.id === sup.id && s.services.find((x) => x.service === 'ward')?.workers.filter((w) => w.member === 'verified').length === 2;
  }, 25_000), 'the new supervisor leads and verifies both workers');
  const victim = connectionOf(rec, other);
  const forgedId = 'ward-forged000001';
  for (let seq = 1; seq <= 3; seq++) {
    publishHeartbeat(rec.nc, forgedHeartbeat('ward', forgedId, { ...victim, seq, startedAt: 1 }));
    await sleep(INTERVAL_MS / 2);
  }
  await rec.nc.flush();
  assert.ok(await rec.waitEvent('lost', forgedId, 15_000, sup.id), 'the forged "worker" is declared lost after its heartbeats stop');
  await sleep(4 * INTERVAL_MS);
  assert.ok(await connectionInfo(sys, victim.serverId, victim.clientId), 'the connection it named is still open');
  assert.equal(sup.kicks?.kicked, 0, 'nothing kicked');
  await assert.rejects(startSupervisor({ servers: nats.url, kickLost: true }), /kickLost needs a system-account connection/);
});
