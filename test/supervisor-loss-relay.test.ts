/**
 * Worker loss relayed to clients on the fleet's event subject. A supervisor with system-account
 * rights hears the broker's disconnect advisory of a SIGKILLed worker's connection and publishes a
 * `lost` event for it at once (code `connection_closed`), well before heartbeat silence would tell.
 * Without those rights, a worker frozen with SIGSTOP is declared lost by heartbeat silence, and its
 * `lost` event names it too (code `heartbeat_silence`); after SIGCONT its heartbeats do not report
the suspension as a stalled loop. Real processes and broker; the event's
 * arrival and content are asserted, not its timing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';
import { BROKER_CONFIG, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';
import { parseDisconnect } from '../src/supervisor/loss-relay.js';
import { startSupervisor } from '../src/index.js';
import { closing } from './helpers/nats.js';
import { INTERVAL_MS } from './helpers/supervision.js';

const SYS_CONFIG = `accounts { APP { users: [ { user: app, password: app } ] }, SYS { users: [ { user: sys, password: sys-secret } ] } }\n` +
  `system_account: SYS\nno_auth_user: app\n`;

test('a supervisor with $SYS rights relays a killed worker\'s disconnect as a lost event naming it', async (t) => {
  await using nats = await startNats({ configText: SYS_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using victim = await spawnWard(nats.url);
  await using w2 = await spawnWard(nats.url);
  void w2;
  await using sup = await spawnSupervisor(nats.url, {}, ['--sys-user', 'sys', '--sys-pass', 'sys-secret']);
  void sup;
  assert.ok(await rec.waitServing('ward', 2), 'the supervisor sees both workers');
  const killedAt = Date.now();
  victim.handle.signal('SIGKILL');
  const lost = await rec.waitEvent('lost', victim.id, 10_000);
  assert.ok(lost, 'a lost event names the killed worker');
  assert.equal(lost.value.service, 'ward');
  assert.equal(lost.value.code, 'connection_closed', 'learned from the broker, not from heartbeat silence');
  assert.equal(rec.eventsOf('lost', victim.id).length, 1, 'one lost event: heartbeat silence later does not repeat it');
  assert.deepEqual(rec.eventsOf('lost').map((e) => e.value.workerId), [victim.id], 'no other worker is declared lost');
  t.diagnostic(`lost event ${lost.at - killedAt} ms after the SIGKILL`);
});

test('through the library: startSupervisor({ fencing }) relays a killed worker\'s disconnect; lossRelay: false waits for heartbeat silence', async () => {
  await using nats = await startNats({ configText: SYS_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using relayed = await spawnWard(nats.url);
  await using silent = await spawnWard(nats.url);
  await using w3 = await spawnWard(nats.url);
  void w3;
  const fencing = { user: 'sys', pass: 'sys-secret' };
  // Two supervisors at once: the older one leads and publishes the events. First the one without
  // the relay, alone, so that the leader's relay setting is the one observed.
  await using quiet = closing(await startSupervisor({ servers: nats.url, intervalMs: INTERVAL_MS, fencing, lossRelay: false }), (s) => s.close());
  assert.ok(await rec.waitServing('ward', 3), 'the supervisor sees the three workers');
  silent.handle.signal('SIGKILL');
  const bySilence = await rec.waitEvent('lost', silent.id, 15_000, quiet.id);
  assert.ok(bySilence, 'the killed worker is declared lost');
  assert.equal(bySilence.value.code, 'heartbeat_silence', 'lossRelay: false: not from the disconnect advisory');
  await quiet.close();

  await using sup = closing(await startSupervisor({ servers: nats.url, intervalMs: INTERVAL_MS, fencing }), (s) => s.close());
  assert.ok(await waitFor(async () => {
    try {
      const s = await rec.status();
      return s.supervisor.id === sup.id && s.supervisor.leader && (s.services.find((x) => x.service === 'ward')?.workers.filter((w) => w.state === 'serving').length ?? 0) >= 2;
    } catch {
      return false;
    }
  }, 25_000), 'the new supervisor leads and sees the two workers left');
  relayed.handle.signal('SIGKILL');
  const lost = await rec.waitEvent('lost', relayed.id, 10_000, sup.id);
  assert.ok(lost, 'a lost event names the killed worker');
  assert.equal(lost.value.code, 'connection_closed', 'the default (lossRelay on): learned from the broker');

  await assert.rejects(startSupervisor({ servers: nats.url, lossRelay: true }), /lossRelay needs a system-account connection/);
});

test('without $SYS rights a frozen worker is lost by heartbeat silence, and the lost event names it', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using frozen = await spawnWard(nats.url);
  await using w2 = await spawnWard(nats.url);
  void w2;
  await using sup = await spawnSupervisor(nats.url);
  void sup;
  assert.ok(await rec.waitServing('ward', 2), 'the supervisor sees both workers');
  try {
    frozen.handle.signal('SIGSTOP');
    const stoppedAt = Date.now();
    const lost = await rec.waitEvent('lost', frozen.id, 10_000);
    assert.ok(lost, 'a lost event names the frozen worker');
    assert.equal(lost.value.code, 'heartbeat_silence');
    assert.equal(typeof lost.value.figures?.silentMs, 'number');
    frozen.handle.signal('SIGCONT');
    const contAt = Date.now();
    assert.ok(await waitFor(() => rec.beatsOf(frozen.id).some((h) => h.at > contAt), 10_000), 'it heartbeats again after SIGCONT');
    const first = rec.beatsOf(frozen.id).find((h) => h.at > contAt)!;
    assert.ok(first.value.stalledMs < contAt - stoppedAt, `a suspended process is not a stall: stalledMs ${first.value.stalledMs} after a ${contAt - stoppedAt} ms freeze`);
  } finally {
    frozen.handle.signal('SIGCONT');
  }
});

test('disconnect advisories are parsed defensively: only a server id and a positive client id are read', () => {
  const sid = 'N'.repeat(56);
  const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
  assert.deepEqual(parseDisconnect(enc({ server: { id: sid }, client: { id: 7, name: 'x' }, reason: 'Client Closed' })), { serverId: sid, clientId: 7 });
  for (const bad of ['not json', 'null', '[]', { server: { id: 'short' }, client: { id: 7 } }, { server: { id: sid }, client: { id: 0 } }, { server: { id: sid }, client: { id: 1.5 } },
    { server: { id: sid }, client: { id: '7' } }, { server: { id: sid } }, { client: { id: 7 } }]) {
    assert.equal(parseDisconnect(enc(bad)), null, JSON.stringify(bad));
  }
  assert.equal(parseDisconnect(new Uint8Array(70_000).fill(32)), null, 'oversized: not even read');
});
