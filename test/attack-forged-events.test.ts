/**
 * Attack: drain events forged on `rpc._evt.<service>` (in the leader's name and in a made-up
 * supervisor's, an ejection of a day), on a broker where anyone may publish them. Real worker and
 * supervisor processes; the supervisors sign with one key.
 *
 * Holds when: the leader acts on its own verdicts only (no worker is drained), and a standby
 * that takes over has followed none of the forged events (no worker counts as ejected). A
 * followed ejection is clamped to the policy's maxEjectionMs (unit check below).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { encode } from '../src/protocol/codec.js';
import type { SupervisorEvent } from '../src/protocol/supervisor-envelopes.js';
import { NkeyCommandSigner, NkeyCommandVerifier } from '../src/security/signed-commands.js';
import { resolvePolicy } from '../src/supervisor/policy.js';
import { WorkerRegistry } from '../src/supervisor/registry.js';
import { sleep, waitFor } from './helpers/load.js';
import { startNats } from './helpers/nats.js';
import { processGroup } from './helpers/processes.js';
import { BROKER_CONFIG, INTERVAL_MS, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';
import { forgedHeartbeat } from './helpers/attack.js';

const DAY_MS = 86_400_000;

function forgedDrain(supervisor: string, workerId: string): SupervisorEvent {
  return { v: 1, ts: Date.now(), supervisor, kind: 'drain', service: 'ward', workerId, reason: 'forged', code: 'consecutive_faults', ejectionMs: DAY_MS, ejection: 1, figures: { until: Date.UTC(2096, 0, 1) } };
}

test('forged drain events: the leader ignores them, a standby that takes over followed none', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'natsrpc-seed-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const seedFile = join(dir, 'seed');
  writeFileSync(seedFile, new TextDecoder().decode(nkeys.createUser().getSeed()));
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using group = processGroup();
  const wards: Awaited<ReturnType<typeof spawnWard>>[] = [];
  t.after(() => Promise.all(wards.map((w) => w[Symbol.asyncDispose]())));
  for (let i = 0; i < 3; i++) wards.push(await spawnWard(nats.url));
  const leader = await spawnSupervisor(nats.url, {}, ['--signing-seed', seedFile]);
  group.push(leader);
  assert.ok(await rec.waitServing('ward', 3), 'the leader sees three healthy workers');
  const standby = await spawnSupervisor(nats.url, {}, ['--signing-seed', seedFile]);
  group.push(standby);
  await sleep(3 * INTERVAL_MS); // the standby has heard the workers and the leader

  const forgedAt = Date.now();
  for (let i = 0; i < 3; i++) {
    for (const w of wards) {
      for (const who of [leader.id, 'sup-forged000000']) rec.nc.publish('rpc._evt.ward', encode(forgedDrain(who, w.id)));
    }
    await sleep(INTERVAL_MS);
  }
  await rec.nc.flush();
  await sleep(2 * INTERVAL_MS + 1_000); // past the leader's resend delay for an ejected worker still serving
  const drainedByLeader = wards.filter((w) => rec.beatsOf(w.id).some((h) => h.at > forgedAt && h.value.state !== 'serving')).length;
  const leaderStatus = await rec.status();
  const ejectedAtLeader = leaderStatus.services.find((s) => s.service === 'ward')!.workers.filter((w) => w.ejectedUntil !== null).length;

  leader.signal('SIGKILL');
  const tookOver = await waitFor(async () => (await rec.status().catch(() => null))?.supervisor.id === standby.id, 15_000);
  const standbyStatus = tookOver ? await rec.status() : null;
  const ejectedAtStandby = standbyStatus?.services.find((s) => s.service === 'ward')!.workers.filter((w) => w.ejectedUntil !== null).length ?? -1;
  t.diagnostic(`forged events: ${JSON.stringify({ drainedByLeader, ejectedAtLeader, tookOver, ejectedAtStandby, drainEventsBySupervisors: rec.eventsOf('drain').filter((e) => e.value.supervisor === standby.id).length })}`);
  assert.equal(drainedByLeader, 0, 'the leader drains no worker for events it did not decide');
  assert.equal(ejectedAtLeader, 0, 'the leader counts no worker as ejected');
  assert.ok(tookOver, 'the standby takes over');
  assert.equal(ejectedAtStandby, 0, 'the standby followed none of the forged (unsigned) events');
});

test('a followed ejection ends within maxEjectionMs, whatever the event says', () => {
  const policy = resolvePolicy({ baseEjectionMs: 1_000, maxEjectionMs: 5_000 });
  const reg = new WorkerRegistry(policy);
  reg.ingest(forgedHeartbeat('ward', 'ward-000000000001'), 1_000);
  reg.followed(reg.get('ward-000000000001')!, forgedDrain('sup-leader', 'ward-000000000001'), 2_000);
  assert.equal(reg.get('ward-000000000001')!.ejection!.until, 2_000 + 5_000);
});

test('supervisor messages: signed ones verify; unsigned, foreign-key, altered, moved and stale ones are refused', () => {
  const key = nkeys.createUser();
  const signer = new NkeyCommandSigner(new TextDecoder().decode(key.getSeed()));
  const verifier = new NkeyCommandVerifier([signer.publicKey]);
  const now = Date.now();
  const ev = { ...forgedDrain('sup-000000000001', 'ward-000000000001'), ts: now };
  const signed = signer.signMessage('rpc._evt.ward', ev.supervisor, ev);
  const verdict = (subject: string, sender: string, m: SupervisorEvent, at = now) => {
    const v = verifier.verifyMessage(subject, sender, m, at);
    return v.ok ? 'ok' : v.reason;
  };
  assert.equal(verdict('rpc._evt.ward', ev.supervisor, signed), 'ok');
  assert.equal(verdict('rpc._evt.ward', ev.supervisor, ev), 'unsigned');
  const intruder = new NkeyCommandSigner(new TextDecoder().decode(nkeys.createUser().getSeed()));
  assert.equal(verdict('rpc._evt.ward', ev.supervisor, intruder.signMessage('rpc._evt.ward', ev.supervisor, ev)), 'untrusted');
  assert.equal(verdict('rpc._evt.ward', ev.supervisor, { ...signed, ejectionMs: 1 }), 'forged', 'a field changed');
  assert.equal(verdict('rpc._evt.math', ev.supervisor, signed), 'forged', 'replayed on another subject');
  assert.equal(verdict('rpc._evt.ward', 'sup-000000000002', signed), 'forged', 'passed off as another supervisor');
  assert.equal(verdict('rpc._evt.ward', ev.supervisor, signed, now + 31_000), 'stale');
});
