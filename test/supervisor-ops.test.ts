/**
 * Heartbeats on the wire, `natsrpc status` and the deadline policy reaching clients, and hostile
 * control commands and heartbeats. Real nats-server, real processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as natsConnect } from 'nats';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { decodeChecked, encode } from '../src/protocol/codec.js';
import type { ControlAck } from '../src/protocol/control.js';
import type { StatusReply } from '../src/supervisor/status.js';
import { startNats } from './helpers/nats.js';
import { runCli } from './helpers/processes.js';
import { sleep, waitFor } from './helpers/load.js';
import { BROKER_CONFIG, INTERVAL_MS, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';

const quiet = createLogger('test', 'silent');

test('supervisor item 1: heartbeats arrive at the configured rate with every field, and the last one on exit says so', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using w = await spawnWard(nats.url);
  const client = await connect({ servers: nats.url, logger: quiet });
  await client.call('ward.work', null);
  await client.close();
  const from = Date.now();
  await sleep(8 * INTERVAL_MS);
  const beats = rec.beatsOf(w.id).filter((h) => h.value.ts >= from && h.value.ts < from + 8 * INTERVAL_MS);
  // 8 expected (by the sender's clock); the interval is jittered by ±10% and the machine is shared.
  assert.ok(beats.length >= 6 && beats.length <= 10, `${beats.length} heartbeats in 8 intervals`);
  assert.equal(rec.heartbeats[0]!.value.id, w.id);
  const hb = beats.at(-1)!.value;
  assert.equal(hb.v, 1);
  assert.equal(hb.service, 'ward');
  assert.equal(hb.version, '0.0.0');
  assert.equal(hb.pid, w.handle.pid);
  assert.equal(hb.state, 'serving');
  assert.equal(hb.intervalMs, INTERVAL_MS);
  assert.equal(hb.concurrency, 64);
  assert.equal(hb.inFlight, 0);
  assert.equal(hb.ok, 1);
  assert.deepEqual(hb.failed, {});
  assert.equal(hb.expired, 0);
  assert.equal(hb.overdue, 0);
  assert.equal(hb.healthy, true, 'the definition health check ran');
  assert.ok(hb.host.length > 0 && hb.serverId.length > 0 && hb.clientId > 0, 'host and the broker identity of its connection');
  assert.ok(hb.p99Ms > 0 && hb.p50Ms > 0 && hb.rssBytes > 1_000_000);
  assert.ok(hb.loopDelayP99Ms >= 0 && hb.stalledMs >= 0 && hb.stalledMs < 1_000);
  for (let i = 1; i < beats.length; i++) assert.ok(beats[i]!.value.seq > beats[i - 1]!.value.seq, 'seq increases');
  w.handle.signal('SIGTERM');
  assert.deepEqual(await w.handle.exited, { code: 0, signal: null });
  await sleep(100);
  const last = rec.beatsOf(w.id).at(-1)!.value;
  assert.equal(last.final, true);
  assert.equal(last.state, 'stopped');
  assert.equal(last.exitReason, 'stopped');
});

test('supervisor item 9: natsrpc status --json shows every worker with its state; the table too; with no supervisor, a clear message and exit 1', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  const none = await runCli(['status', '--servers', nats.url, '--timeout', '500']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no supervisor is running on rpc\._sup\.status/);

  await using w1 = await spawnWard(nats.url);
  await using w2 = await spawnWard(nats.url);
  await using sup = await spawnSupervisor(nats.url, {}, ['--deadline', 'ward=1000:3000']);
  assert.ok(await rec.waitServing('ward', 2));
  const json = await runCli(['status', '--json', '--servers', nats.url]);
  assert.equal(json.code, 0, json.stderr);
  const status = JSON.parse(json.stdout) as StatusReply;
  assert.equal(status.supervisor.id, sup.id);
  assert.equal(status.supervisor.leader, true);
  const ward = status.services.find((s) => s.service === 'ward')!;
  assert.deepEqual(ward.deadline, { defaultMs: 1000, maxMs: 3000 });
  assert.deepEqual(ward.workers.map((w) => w.id).sort(), [w1.id, w2.id].sort());
  for (const w of ward.workers) {
    assert.equal(w.state, 'serving');
    assert.equal(w.health, 'healthy');
    assert.equal(w.concurrency, 64);
    assert.ok(w.heartbeatAgeMs < 3 * INTERVAL_MS + 500);
  }
  const table = await runCli(['status', '--servers', nats.url]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /service ward \(2 workers\)/);
  assert.match(table.stdout, /WORKER\s+HOST\/PID\s+STATE\s+HEALTH\s+INFLIGHT\s+CALLS\/S\s+P99 MS\s+ERRORS\s+HB AGE\s+LAST DRAIN REASON/);
  for (const w of [w1, w2]) assert.match(table.stdout, new RegExp(`${w.id}\\s+\\S+/${w.handle.pid}\\s+serving\\s+healthy\\s+0/64`));

  // The deadline policy reaches clients: no timeout means the service default, more is clamped.
  const client = await connect({ servers: nats.url, logger: quiet });
  try {
    await sleep(2 * INTERVAL_MS); // one supervisor heartbeat
    const t0 = Date.now();
    const err = await client.call('ward.nothing', null, { timeoutMs: 60_000 }).catch((e: Error) => e);
    assert.equal((err as { code?: string }).code, 'METHOD_NOT_FOUND');
    w1.setMode('hang');
    w2.setMode('hang');
    const clamped = await client.call('ward.work', null, { timeoutMs: 60_000 }).catch((e: { code: string; message: string }) => e);
    assert.match((clamped as { message: string }).message, /did not reply within 3000 ms/, 'a 60 s timeout is clamped to the 3 s maximum');
    const dflt = await client.call('ward.work', null).catch((e: { code: string; message: string }) => e);
    assert.match((dflt as { message: string }).message, /did not reply within 1000 ms/, 'no timeout means the 1 s default');
    void t0;
  } finally {
    await client.close();
  }
});

test('supervisor item 10: a malformed control command or heartbeat is ignored and logged; nothing crashes', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using w = await spawnWard(nats.url);
  await using sup = await spawnSupervisor(nats.url);
  assert.ok(await rec.waitServing('ward', 1));
  const nc = await natsConnect({ servers: nats.url });
  try {
    const ctl = `rpc._ctl.ward.${w.id}`;
    const bad: Uint8Array[] = [
      new Uint8Array([0xc1]),
      new Uint8Array(0),
      encode({ v: 1, id: 'x', cmd: 'explode', target: w.id, from: 'me', ts: 1 }),
      encode({ v: 2, id: 'x', cmd: 'drain', target: w.id, from: 'me', ts: 1 }),
      encode({ v: 1, id: 'x', cmd: 'drain', target: 'someone-else', from: 'me', ts: 1 }),
      new Uint8Array(10_000),
      new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), // a 4-billion-element array header
    ];
    for (const data of bad) {
      const reply = await nc.request(ctl, data, { timeout: 2_000 });
      const ack = decodeChecked(reply.data) as ControlAck;
      assert.equal(ack.ok, false, 'refused');
      assert.ok(typeof ack.error === 'string' && ack.error.length > 0);
    }
    nc.publish(ctl, new Uint8Array([0x93])); // no reply subject: ignored silently
    for (const data of [new Uint8Array([0xc1]), encode({ v: 1, id: w.id }), encode('hello'), new Uint8Array(20_000)]) {
      nc.publish(`rpc._hb.ward.${w.id}`, data);
    }
    nc.publish('rpc._hb.ward.forged-1', encode({ ...rec.beatsOf(w.id).at(-1)!.value, seq: 999_999 })); // subject does not match the id
    nc.publish('rpc._sup.hb', new Uint8Array([0xc1]));
    await nc.flush();
    await sleep(3 * INTERVAL_MS);
    // Each refusal was acknowledged (ok: false, above); the log lines come over stdout pipes that
    // can trail the bus, so they are waited for.
    assert.ok(await waitFor(() => w.handle.lines.some((l) => l.includes('malformed or refused control command ignored')), 5_000), 'the worker logged it');
    assert.ok(await waitFor(() => sup.lines.some((l) => l.includes('malformed heartbeat ignored')), 5_000), 'the supervisor logged it');
    assert.equal(w.handle.child.exitCode, null);
    assert.equal(sup.child.exitCode, null);
    assert.equal(rec.heartbeats.filter((h) => h.value.id === w.id).at(-1)!.value.state, 'serving', 'no command acted');
    const status = await rec.status();
    assert.deepEqual(status.services.flatMap((s) => s.workers.map((x) => x.id)), [w.id], 'no forged worker registered');
    // A well-formed command still works afterwards.
    const commandAt = Date.now();
    const ok = decodeChecked((await nc.request(ctl, encode({ v: 1, id: 'c1', cmd: 'drain', target: w.id, from: 'test', ts: Date.now() }), { timeout: 2_000 })).data) as ControlAck;
    assert.equal(ok.ok, true);
    // Any heartbeat since the command showing the drain proves it: on a loaded machine the
    // supervisor may have judged the worker late beforehand and resume it by its own schedule.
    assert.ok(await waitFor(() => rec.beatsOf(w.id).some((h) => h.at >= commandAt && h.value.state === 'drained'), 20_000), 'drained on a valid command');
    const command = (id: string, cmd: string) => encode({ v: 1, id, cmd, target: w.id, from: 'test', ts: Date.now() });
    const resumed = decodeChecked((await nc.request(ctl, command('c2', 'resume'), { timeout: 2_000 })).data) as ControlAck;
    assert.deepEqual([resumed.ok, resumed.state], [true, 'serving']);
    const down = decodeChecked((await nc.request(ctl, command('c3', 'shutdown'), { timeout: 2_000 })).data) as ControlAck;
    assert.deepEqual([down.id, down.ok], ['c3', true]);
    assert.deepEqual(await w.handle.exited, { code: 0, signal: null }, 'shutdown drains and exits 0');
  } finally {
    await nc.close();
  }
});
