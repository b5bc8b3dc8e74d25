/**
 * Signed control commands: the verifier a worker uses accepts only fresh, untampered commands
 * from a trusted key for its own target, once. The replay policy is checked on its own, the
 * signed bytes against the description in docs/protocol.md, then the whole path over a real
 * broker with a permissive account, where anyone may publish on control subjects and only the
 * signature keeps a caller from draining the fleet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nkeys } from 'nats';
import { openConnection } from '../src/connection/options.js';
import { commandSigningInput, NkeyCommandSigner, NkeyCommandVerifier, ReplayGuard, type CommandVerdict, type SignableCommand } from '../src/security/signed-commands.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/index.js';
import { decodeChecked, encode } from '../src/protocol/codec.js';
import { createLogger } from '../src/logging/logger.js';
import { closing, startNats } from './helpers/nats.js';
import { sleep, startLoad, waitFor } from './helpers/load.js';
import { BROKER_CONFIG, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';

const seedOf = (kp: ReturnType<typeof nkeys.createUser>) => new TextDecoder().decode(kp.getSeed());
const NOW = 1_800_000_000_000;
const command = { v: 1, id: 'a1b2c3d4e5f60718', cmd: 'drain', target: 'math-0123456789ab', from: 'sup-1', ts: NOW, reason: 'unhealthy' };

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

test('NkeyCommandVerifier: unsigned, malformed, untrusted, forged, tampered, retargeted, stale and replayed commands are refused', () => {
  const signer = new NkeyCommandSigner(seedOf(nkeys.createUser()));
  const verifier = new NkeyCommandVerifier([signer.publicKey]);
  const signed = signer.signCommand(command);
  assert.match(signed.sig, new RegExp(`^${signer.publicKey}\\.[A-Za-z0-9_-]{86}$`));
  const verdict = (c: Record<string, unknown>, now = NOW + 10) => {
    const v: CommandVerdict = verifier.verifyCommand(c as unknown as SignableCommand, now);
    return v.ok ? 'ok' : v.reason;
  };
  const [key, signature] = signed.sig.split('.') as [string, string];

  assert.equal(verdict(command), 'unsigned', 'no sig');
  assert.equal(verdict({ ...command, sig: '' }), 'unsigned');

  assert.equal(verdict({ ...signed, sig: signature }), 'malformed', 'no signer');
  assert.equal(verdict({ ...signed, sig: `.${signature}` }), 'malformed', 'empty signer');
  assert.equal(verdict({ ...signed, sig: `${key}.not base64 !` }), 'malformed', 'not a signature');
  assert.equal(verdict(signer.signCommand({ ...command, id: 'short' })), 'malformed', 'an id unfit for a nonce');
  assert.equal(verdict(signer.signCommand({ ...command, id: 'a/b.c d*e+f' })), 'malformed');
  assert.equal(verdict(signer.signCommand({ ...command, ts: -1 })), 'malformed', 'a negative ts');
  assert.equal(verdict(signer.signCommand({ ...command, ts: 1.5 })), 'malformed', 'a fractional ts');

  // Signed by someone else: a stolen caller credential with its own key.
  const intruder = new NkeyCommandSigner(seedOf(nkeys.createUser()));
  assert.equal(verdict(intruder.signCommand(command)), 'untrusted');
  // ...claiming to be the supervisor, with its own signature.
  const claimed = intruder.signCommand(command);
  assert.equal(verdict({ ...claimed, sig: `${signer.publicKey}.${claimed.sig.split('.')[1]}` }), 'forged');

  assert.equal(verdict({ ...signed, cmd: 'shutdown' }), 'forged', 'command changed');
  assert.equal(verdict({ ...signed, target: 'math-ba9876543210' }), 'forged', 'sent to another worker');
  assert.equal(verdict({ ...signed, reason: 'because' }), 'forged', 'reason changed');
  assert.equal(verdict({ ...signed, from: 'someone' }), 'forged', 'sender changed');
  assert.equal(verdict({ ...signed, ts: NOW + 1 }), 'forged', 'timestamp changed');
  assert.equal(verdict({ ...signed, id: 'fffffffffffffff0' }), 'forged', 'nonce changed');
  assert.equal(verdict({ ...signed, extra: 1 }), 'forged', 'a field added');
  const { reason: _dropped, ...withoutReason } = signed;
  assert.equal(verdict(withoutReason), 'forged', 'a field removed');

  assert.equal(verdict(signer.signCommand({ ...command, id: 'fffffffffffffff1', ts: NOW - 60_000 })), 'stale', 'too old');
  assert.equal(verdict(signer.signCommand({ ...command, id: 'fffffffffffffff2', ts: NOW + 60_000 })), 'stale', 'from the future');
  assert.equal(verdict(signed), 'ok');
  assert.equal(verdict(signed), 'replayed');
  // Unknown fields and nil values are signed too.
  const extended = signer.signCommand({ ...command, id: 'fffffffffffffff3', reason: null, 'x-note': 'é' });
  assert.equal(verdict(extended), 'ok');

  assert.throws(() => new NkeyCommandVerifier([]), /at least one/);
  assert.throws(() => new NkeyCommandVerifier(['nope']), /not an nkey public key/);
  assert.throws(() => new NkeyCommandSigner('SUnot-a-seed'), /not a valid nkey seed/);
});

test('the signed bytes are exactly as docs/protocol.md describes them', () => {
  const cmd = { ...command, reason: 'drift "é" \u2603', Zeta: null, 'x-new': [1, 'two'] } as unknown as SignableCommand;
  const expected =
    'natsrpc-command-v1\nmath-0123456789ab\n1800000000000\na1b2c3d4e5f60718\n' +
    '[["Zeta",null],["cmd","drain"],["from","sup-1"],["id","a1b2c3d4e5f60718"],["reason","drift \\"é\\" \u2603"],' +
    '["target","math-0123456789ab"],["ts",1800000000000],["v",1],["x-new",[1,"two"]]]';
  assert.equal(new TextDecoder().decode(commandSigningInput(cmd)), expected);
  assert.equal(new TextDecoder().decode(commandSigningInput({ ...cmd, sig: 'ignored' })), expected, 'sig itself is not signed');
  // The signature is a plain ed25519 signature of those bytes by the key's seed.
  const kp = nkeys.createUser();
  const signed = new NkeyCommandSigner(seedOf(kp)).signCommand(cmd);
  const [key, signature] = signed.sig.split('.') as [string, string];
  assert.equal(key, kp.getPublicKey());
  assert.ok(nkeys.fromPublic(key).verify(new TextEncoder().encode(expected), Buffer.from(signature, 'base64url')));
});

test('canonical JSON of nested values: floats as ECMAScript writes them, maps sorted at every depth; bytes, extensions and NaN are malformed', () => {
  const head = 'natsrpc-command-v1\nmath-0123456789ab\n1800000000000\na1b2c3d4e5f60718\n';
  const extra = { f: [0.1, 1.5, 1e21, 1e-7, -0, 2.0], m: { b: 1, A: { z: null, y: 'é' }, a: [true] } };
  const cmd = { ...command, 'x-extra': extra } as unknown as SignableCommand;
  assert.equal(
    new TextDecoder().decode(commandSigningInput(cmd)),
    head + '[["cmd","drain"],["from","sup-1"],["id","a1b2c3d4e5f60718"],["reason","unhealthy"],["target","math-0123456789ab"],["ts",1800000000000],["v",1],' +
      '["x-extra",{"f":[0.1,1.5,1e+21,1e-7,0,2],"m":{"A":{"y":"é","z":null},"a":[true],"b":1}}]]',
  );
  // Key order as encoded plays no part, integer-like keys included.
  const reordered = { ...command, 'x-extra': { m: { a: [true], '10': 1, '9': 2, A: { y: 'é', z: null } } } } as unknown as SignableCommand;
  assert.match(new TextDecoder().decode(commandSigningInput(reordered)), /\["x-extra",\{"m":\{"10":1,"9":2,"A":\{"y":"é","z":null\},"a":\[true\]\}\}\]\]$/);
  const signer = new NkeyCommandSigner(seedOf(nkeys.createUser()));
  const verifier = new NkeyCommandVerifier([signer.publicKey]);
  const signed = signer.signCommand({ ...command, ts: Date.now(), 'x-extra': extra } as unknown as SignableCommand);
  assert.deepEqual(verifier.verifyCommand(decodeChecked(encode(signed)) as SignableCommand), { ok: true, signer: signer.publicKey }, 'survives a msgpack round trip');
  for (const bad of [new Uint8Array([1, 2]), new Date(0), NaN, Infinity, { deep: [new Uint8Array(1)] }]) {
    const forged = { ...command, ts: Date.now(), id: `n${Math.random().toString(16).slice(2, 14)}`, sig: signed.sig, 'x-bad': bad } as unknown as SignableCommand;
    assert.deepEqual(verifier.verifyCommand(forged), { ok: false, reason: 'malformed' }, String(bad));
  }
});

test('over a permissive broker: a listener obeys only the signed command, once', async () => {
  await using nats = await startNats();
  const signer = new NkeyCommandSigner(seedOf(nkeys.createUser()));
  const verifier = new NkeyCommandVerifier([signer.publicKey]);
  const worker = await openConnection({ servers: nats.url });
  const caller = await openConnection({ servers: nats.url });
  const supervisor = await openConnection({ servers: nats.url });
  const obeyed: string[] = [];
  const refused: string[] = [];
  const subject = `rpc._ctl.${command.target}`;
  worker.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      const received = decodeChecked(msg.data) as SignableCommand & { cmd: string };
      const v = verifier.verifyCommand(received);
      if (v.ok) obeyed.push(received.cmd);
      else refused.push(v.reason);
    },
  });
  await worker.flush();
  try {
    const fresh = { ...command, ts: Date.now() };
    caller.publish(subject, encode(fresh)); // unsigned
    const stolen = new NkeyCommandSigner(seedOf(nkeys.createUser()));
    caller.publish(subject, encode(stolen.signCommand(fresh))); // untrusted key
    const signed = signer.signCommand(fresh);
    supervisor.publish(subject, encode(signed)); // the real one
    caller.publish(subject, encode({ ...signed, cmd: 'shutdown' })); // tampered
    caller.publish(subject, encode(signed)); // replayed
    await Promise.all([caller.flush(), supervisor.flush()]);
    assert.ok(await waitFor(() => obeyed.length + refused.length === 5, 5_000));
    assert.deepEqual(obeyed, ['drain']);
    assert.deepEqual(refused, ['unsigned', 'untrusted', 'forged', 'replayed']);
  } finally {
    await Promise.all([worker.close(), caller.close(), supervisor.close()]);
  }
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
  await using client = closing(await connect({ servers: nats.url, logger: createLogger('test', 'silent') }), (c) => c.close());
  const ack = async (subject: string, body: Uint8Array) =>
    decodeChecked((await rec.nc.request(subject, body, { timeout: 2_000 })).data) as { ok: boolean; error?: string };
  // One caller that keeps the workers busy; disposed (stopped) before the client closes.
  await using _load = startLoad(client, 'ward.work', () => null, { concurrency: 1, maxCalls: 1_000_000, maxDurationMs: 60_000, failurePauseMs: 10, call: { timeoutMs: 1_000 } });
  try {
    assert.ok(await rec.waitServing('ward', 2), 'the supervisor sees both workers');
    sick.setMode('fail');
    assert.ok(await rec.waitEvent('drain', sick.id, 10_000), 'the supervisor drains the failing worker');
    assert.ok(await waitFor(() => rec.beatsOf(sick.id).at(-1)?.value.state === 'drained', 5_000), 'the worker obeyed the signed drain');
    const signed = captured.find((c) => c.subject === `rpc._ctl.ward.${sick.id}`)!;
    const command = decodeChecked(signed.data) as Record<string, unknown>;
    assert.match(String(command.sig), new RegExp(`^${key.getPublicKey()}\\.`), 'the command carries the supervisor signature');

    const target = `rpc._ctl.ward.${healthy.id}`;
    const drainHealthy = { v: 1, id: 'f00dfeedf00dfeed', cmd: 'drain', target: healthy.id, from: 'intruder', ts: Date.now(), reason: 'because' };
    assert.match((await ack(target, encode(drainHealthy))).error ?? '', /refused: unsigned/);
    const stranger = new NkeyCommandSigner(seedOf(nkeys.createUser()));
    assert.match((await ack(target, encode(stranger.signCommand(drainHealthy)))).error ?? '', /refused: untrusted/);
    assert.match((await ack(signed.subject, encode({ ...command, cmd: 'shutdown' }))).error ?? '', /refused: forged/);
    assert.match((await ack(signed.subject, signed.data)).error ?? '', /refused: replayed/);
    await sleep(1_000);
    assert.equal(rec.beatsOf(healthy.id).at(-1)?.value.state, 'serving', 'the healthy worker was never drained');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
