/**
 * Signed control commands: the verifier a worker uses accepts only fresh, untampered commands
 * from a trusted key for its own subject, once. The replay policy is checked on its own, then the
 * whole path over a real broker with a permissive account, where anyone may publish on control
 * subjects and only the signature keeps a caller from draining the fleet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headers as natsHeaders, nkeys } from 'nats';
import { openConnection } from '../src/connection/options.js';
import {
  NkeyCommandSigner,
  NkeyCommandVerifier,
  NONCE_HEADER,
  ReplayGuard,
  SIGNATURE_HEADER,
  SIGNER_HEADER,
  TIMESTAMP_HEADER,
  type CommandVerdict,
} from '../src/security/signed-commands.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/index.js';
import { decodeChecked, encode } from '../src/protocol/codec.js';
import { createLogger } from '../src/logging/logger.js';
import { startNats } from './helpers/nats.js';
import { sleep, waitFor } from './helpers/load.js';
import { BROKER_CONFIG, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';

const seedOf = (kp: ReturnType<typeof nkeys.createUser>) => new TextDecoder().decode(kp.getSeed());
const body = new TextEncoder().encode(JSON.stringify({ command: 'drain', reason: 'unhealthy' }));

test('ReplayGuard: refuses repeats and stale timestamps, stays bounded, and never forgets into a replay', () => {
  const guard = new ReplayGuard(1_000, 3);
  assert.equal(guard.admit('a', 10_000, 10_000), 'ok');
  assert.equal(guard.admit('a', 10_000, 10_001), 'replayed');
  assert.equal(guard.admit('b', 8_000, 10_000), 'stale', 'too old');
  assert.equal(guard.admit('c', 12_000, 10_000), 'stale', 'from the future');
  assert.equal(guard.admit('b', 10_100, 10_200), 'ok');
  assert.equal(guard.admit('c', 10_200, 10_300), 'ok');
  assert.equal(guard.size, 3);
  // Full: admitting one more forgets the oldest ('a', ts 10,000), so anything that old is refused.
  assert.equal(guard.admit('d', 10_300, 10_400), 'ok');
  assert.equal(guard.size, 3);
  assert.equal(guard.admit('a', 10_000, 10_500), 'stale', 'a forgotten nonce cannot be replayed');
  assert.equal(guard.admit('e', 10_000, 10_500), 'stale');
  // Expired entries go as time passes.
  assert.equal(guard.admit('f', 20_000, 20_000), 'ok');
  assert.equal(guard.size, 1);
  assert.throws(() => new ReplayGuard(0), /maxAgeMs/);
});

test('NkeyCommandVerifier: unsigned, malformed, untrusted, forged, tampered, redirected, stale and replayed commands are refused', () => {
  const supervisor = nkeys.createUser();
  const signer = new NkeyCommandSigner(seedOf(supervisor));
  const verifier = new NkeyCommandVerifier([signer.publicKey]);
  const subject = 'rpc._ctl.math-1';
  const now = 1_800_000_000_000;
  const verdict = (v: CommandVerdict) => (v.ok ? 'ok' : v.reason);

  const h = signer.sign(subject, body, now);
  assert.equal(verdict(verifier.verify(subject, h, body, now + 5)), 'ok');
  assert.equal(verdict(verifier.verify(subject, h, body, now + 6)), 'replayed');
  assert.equal(verdict(verifier.verify(subject, undefined, body, now)), 'unsigned');
  assert.equal(verdict(verifier.verify(subject, natsHeaders(), body, now)), 'unsigned');

  const fresh = () => signer.sign(subject, body, now);
  const tampered = new TextEncoder().encode(JSON.stringify({ command: 'shutdown', reason: 'unhealthy' }));
  assert.equal(verdict(verifier.verify(subject, fresh(), tampered, now)), 'forged', 'body changed');
  assert.equal(verdict(verifier.verify('rpc._ctl.math-2', fresh(), body, now)), 'forged', 'sent to another worker');
  const retimed = fresh();
  retimed.set(TIMESTAMP_HEADER, String(now + 1));
  assert.equal(verdict(verifier.verify(subject, retimed, body, now)), 'forged', 'timestamp changed');
  const renonced = fresh();
  renonced.set(NONCE_HEADER, 'another-nonce-value');
  assert.equal(verdict(verifier.verify(subject, renonced, body, now)), 'forged', 'nonce changed');

  // Signed by someone else: a stolen caller credential with its own key.
  const intruder = new NkeyCommandSigner(seedOf(nkeys.createUser()));
  assert.equal(verdict(verifier.verify(subject, intruder.sign(subject, body, now), body, now)), 'untrusted');
  // ...claiming to be the supervisor, with its own signature.
  const claimed = intruder.sign(subject, body, now);
  claimed.set(SIGNER_HEADER, signer.publicKey);
  assert.equal(verdict(verifier.verify(subject, claimed, body, now)), 'forged');
  const garbage = fresh();
  garbage.set(SIGNATURE_HEADER, 'not base64 !');
  assert.equal(verdict(verifier.verify(subject, garbage, body, now)), 'malformed');
  assert.equal(verdict(verifier.verify(subject, signer.sign(subject, body, now - 60_000), body, now)), 'stale');

  assert.throws(() => new NkeyCommandVerifier([]), /at least one/);
  assert.throws(() => new NkeyCommandVerifier(['nope']), /not an nkey public key/);
  assert.throws(() => new NkeyCommandSigner('SUnot-a-seed'), /not a valid nkey seed/);
});

test('over a permissive broker: a listener obeys only the signed command, once', async () => {
  await using nats = await startNats();
  const supervisorKey = nkeys.createUser();
  const signer = new NkeyCommandSigner(seedOf(supervisorKey));
  const verifier = new NkeyCommandVerifier([signer.publicKey]);
  const worker = await openConnection({ servers: nats.url });
  const caller = await openConnection({ servers: nats.url });
  const supervisor = await openConnection({ servers: nats.url });
  const obeyed: string[] = [];
  const refused: string[] = [];
  const subject = 'rpc._ctl.math-1';
  worker.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      const v = verifier.verify(msg.subject, msg.headers, msg.data);
      if (v.ok) obeyed.push(new TextDecoder().decode(msg.data));
      else refused.push(v.reason);
    },
  });
  await worker.flush();
  try {
    caller.publish(subject, body); // unsigned
    const stolen = new NkeyCommandSigner(seedOf(nkeys.createUser()));
    caller.publish(subject, body, { headers: stolen.sign(subject, body) }); // untrusted key
    const h = signer.sign(subject, body);
    supervisor.publish(subject, body, { headers: h }); // the real one
    caller.publish(subject, new TextEncoder().encode('{"command":"shutdown"}'), { headers: h }); // tampered
    caller.publish(subject, body, { headers: h }); // replayed
    await Promise.all([caller.flush(), supervisor.flush()]);
    assert.ok(await waitFor(() => obeyed.length + refused.length === 5, 5_000));
    assert.deepEqual(obeyed, [new TextDecoder().decode(body)]);
    assert.deepEqual(refused, ['unsigned', 'untrusted', 'forged', 'replayed']);
  } finally {
    await Promise.all([worker.close(), caller.close(), supervisor.close()]);
  }
});

test('in-body signatures of control commands (id as nonce, ts, target): tampering, retargeting, replay and forgery refused', () => {
  const signer = new NkeyCommandSigner(seedOf(nkeys.createUser()));
  const verifier = new NkeyCommandVerifier([signer.publicKey]);
  const now = 1_800_000_000_000;
  const cmd = { v: 1, id: 'a1b2c3d4e5f60718', cmd: 'drain', target: 'math-0123456789ab', from: 'sup-1', ts: now, reason: 'unhealthy' };
  const signed = signer.signCommand(cmd);
  assert.match(signed.sig, new RegExp(`^${signer.publicKey}\\.`));
  const verdict = (c: typeof signed) => {
    const v = verifier.verifyCommand(c, now + 10);
    return v.ok ? 'ok' : v.reason;
  };
  assert.equal(verdict({ ...cmd, sig: '' }), 'unsigned');
  assert.equal(verdict({ ...signed, cmd: 'shutdown' }), 'forged');
  assert.equal(verdict({ ...signed, target: 'math-ba9876543210' }), 'forged');
  assert.equal(verdict({ ...signed, reason: 'because' }), 'forged');
  assert.equal(verdict({ ...signed, ts: now + 1 }), 'forged');
  const other = new NkeyCommandSigner(seedOf(nkeys.createUser()));
  assert.equal(verdict(other.signCommand(cmd)), 'untrusted');
  assert.equal(verdict(signed), 'ok');
  assert.equal(verdict(signed), 'replayed');
  assert.equal(verdict(signer.signCommand({ ...cmd, id: 'fffffffffffffff1', ts: now - 60_000 })), 'stale');
});

test('natsrpc supervisor --signing-seed and worker --trusted-key: signed drains obeyed; unsigned, untrusted, tampered and replayed ones refused', async () => {
  const key = nkeys.createUser();
  const dir = mkdtempSync(join(tmpdir(), 'natsrpc-signing-'));
  const seedFile = join(dir, 'supervisor.nk');
  writeFileSync(seedFile, seedOf(key), { mode: 0o600 });
  const trust = ['--trusted-key', key.getPublicKey()];
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using sick = await spawnWard(nats.url, trust);
  await using healthy = await spawnWard(nats.url, trust);
  await using _sup = await spawnSupervisor(nats.url, {}, ['--signing-seed', seedFile]);
  const captured: { subject: string; data: Uint8Array }[] = [];
  rec.nc.subscribe('rpc._ctl.>', { callback: (_e, m) => captured.push({ subject: m.subject, data: m.data }) });
  const client = await connect({ servers: nats.url, logger: createLogger('test', 'silent') });
  const ack = async (subject: string, body: Uint8Array) =>
    decodeChecked((await rec.nc.request(subject, body, { timeout: 2_000 })).data) as { ok: boolean; error?: string };
  let stop = false;
  const load = (async () => {
    while (!stop) await client.call('ward.work', null, { timeoutMs: 1_000 }).catch(() => sleep(10));
  })();
  try {
    assert.ok(await rec.waitServing('ward', 2), 'the supervisor sees both workers');
    sick.setMode('fail');
    assert.ok(await rec.waitEvent('drain', sick.id, 10_000), 'the supervisor drains the failing worker');
    assert.ok(await waitFor(() => rec.beatsOf(sick.id).at(-1)?.value.state === 'drained', 5_000), 'the worker obeyed the signed drain');
    const signed = captured.find((c) => c.subject === `rpc._ctl.${sick.id}`)!;
    const command = decodeChecked(signed.data) as Record<string, unknown>;
    assert.match(String(command.sig), new RegExp(`^${key.getPublicKey()}\\.`), 'the command carries the supervisor signature');

    const target = `rpc._ctl.${healthy.id}`;
    const drainHealthy = { v: 1, id: 'f00dfeedf00dfeed', cmd: 'drain', target: healthy.id, from: 'intruder', ts: Date.now(), reason: 'because' };
    assert.match((await ack(target, encode(drainHealthy))).error ?? '', /refused: unsigned/);
    const stranger = new NkeyCommandSigner(seedOf(nkeys.createUser()));
    assert.match((await ack(target, encode(stranger.signCommand(drainHealthy)))).error ?? '', /refused: untrusted/);
    assert.match((await ack(signed.subject, encode({ ...command, cmd: 'shutdown' }))).error ?? '', /refused: forged/);
    assert.match((await ack(signed.subject, signed.data)).error ?? '', /refused: replayed/);
    await sleep(1_000);
    assert.equal(rec.beatsOf(healthy.id).at(-1)?.value.state, 'serving', 'the healthy worker was never drained');
  } finally {
    stop = true;
    await load;
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
