/**
 * Connection security from options, flags and the environment: TLS with certificates made at
 * test time (the server requires and verifies client certificates, through the shipped
 * cluster-tls.conf), nkey seeds and tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { connect, RpcError, startWorker } from '../src/index.js';
import { natsOptions, openConnection, withEnvDefaults } from '../src/connection/options.js';
import { createLogger } from '../src/logging/logger.js';
import math from '../workers/math.js';
import { CLUSTER_CONFIG, identity, startSingleNode, TEST_PASSWORDS } from './helpers/cluster.js';
import { hasOpenssl, makeCerts, tlsEnv } from './helpers/certs.js';
import { startNats } from './helpers/nats.js';
import { runCli } from './helpers/processes.js';

const quiet = createLogger('test', 'silent');
const TLS_CONFIG = CLUSTER_CONFIG.replace('cluster.conf', 'cluster-tls.conf');
const unavailable = (pattern?: RegExp) => (e: RpcError) => e.code === 'UNAVAILABLE' && (!pattern || pattern.test(e.message));

test('mutual TLS: clients with a certificate from the CA connect (options, flags, env); others are refused', { skip: !hasOpenssl() && 'openssl is not installed' }, async () => {
  using certs = makeCerts();
  await using nats = await startSingleNode(TLS_CONFIG, tlsEnv(certs));
  const tls = { tlsCa: certs.ca, tlsCert: certs.clientCert, tlsKey: certs.clientKey };
  const worker = await startWorker(math, { servers: nats.url, ...identity('math'), ...tls, logger: quiet });
  const client = await connect({ servers: nats.url, ...identity('caller'), ...tls, logger: quiet });
  try {
    assert.equal(await client.call('math.add', { a: 1, b: 2 }), 3);
    assert.equal(client.connection.info?.tls_required, true);

    const caller = ['--user', 'caller', '--pass', TEST_PASSWORDS.NATS_CALLER_PASS, '--inbox-prefix', '_INBOX_caller'];
    const byFlags = await runCli(['call', 'math.add', '{"a":20,"b":22}', '--servers', nats.url, ...caller,
      '--tls-ca', certs.ca, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey]);
    assert.equal(byFlags.code, 0, byFlags.stderr);
    assert.equal(byFlags.stdout.trim(), '42');
    const fromEnv = withEnvDefaults({ servers: nats.url, ...identity('caller') }, { NATS_TLS_CA: certs.ca, NATS_TLS_CERT: certs.clientCert, NATS_TLS_KEY: certs.clientKey });
    const byEnv = await connect({ ...fromEnv, logger: quiet });
    assert.equal(await byEnv.call('math.add', { a: 1, b: 1 }), 2);
    await byEnv.close();

    // Refused: no certificate, a certificate from another CA, no TLS at all.
    // The server ends the handshake of a client without a valid certificate, which the nats client
    // reports as a connect timeout: a short one keeps the test quick.
    const who = { servers: nats.url, ...identity('caller'), nats: { timeout: 1_500 } };
    const handshakeErrors = () => nats.log.match(/TLS handshake error/g)?.length ?? 0;
    await assert.rejects(openConnection({ ...who, tlsCa: certs.ca }), unavailable());
    await assert.rejects(openConnection({ ...who, tlsCa: certs.ca, tlsCert: certs.strangerCert, tlsKey: certs.strangerKey }), unavailable());
    assert.ok(handshakeErrors() >= 2, `the server refused both handshakes:\n${nats.log.slice(-1_000)}`);
    await assert.rejects(openConnection(who), unavailable());
    // A server certificate the client cannot verify is refused by the client.
    await assert.rejects(openConnection({ ...who, tlsCa: certs.strangerCert, tlsCert: certs.clientCert, tlsKey: certs.clientKey }), unavailable());
    assert.equal(worker.stats.ok, 3, 'the refused clients never reached the worker');
  } finally {
    await client.close();
    await worker.stop();
  }
});

test('nkey seed (as a value, from a file, through --nkey) and token authentication', async () => {
  const user = nkeys.createUser();
  const seed = new TextDecoder().decode(user.getSeed());
  const stranger = new TextDecoder().decode(nkeys.createUser().getSeed());
  await using nkeyServer = await startNats({ configText: `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }\n` });
  const worker = await startWorker(math, { servers: nkeyServer.url, nkeySeed: seed, logger: quiet, heartbeatIntervalMs: 100 });
  try {
    // The heartbeat thread authenticates the way the worker did: its heartbeats arrive.
    const watcher = await openConnection({ servers: nkeyServer.url, nkeySeed: seed });
    const beats = watcher.subscribe(`rpc._hb.math.${worker.id}`, { max: 1 });
    for await (const m of beats) assert.ok(m.data.length > 0);
    await watcher.close();

    const dir = mkdtempSync(join(tmpdir(), 'natsrpc-nkey-'));
    const seedFile = join(dir, 'user.nk');
    writeFileSync(seedFile, seed + '\n', { mode: 0o600 });
    const client = await connect({ servers: nkeyServer.url, nkeySeed: seedFile, logger: quiet });
    assert.equal(await client.call('math.add', { a: 2, b: 2 }), 4);
    await client.close();
    const cli = await runCli(['call', 'math.add', '{"a":3,"b":3}', '--servers', nkeyServer.url, '--nkey', seedFile]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim(), '6');
    const byEnv = await connect({ ...withEnvDefaults({ servers: nkeyServer.url }, { NATS_NKEY_SEED: seed }), logger: quiet });
    assert.equal(await byEnv.call('math.add', { a: 4, b: 4 }), 8);
    await byEnv.close();
    await assert.rejects(openConnection({ servers: nkeyServer.url, nkeySeed: stranger }), unavailable());
    await assert.rejects(openConnection({ servers: nkeyServer.url }), unavailable());
    assert.throws(() => natsOptions({ servers: nkeyServer.url, nkeySeed: 'not-a-seed-nor-a-file' }), /nkeySeed cannot be read/);
    rmSync(dir, { recursive: true });
  } finally {
    await worker.stop();
  }

  await using tokenServer = await startNats({ configText: 'authorization { token: "s3cret-token" }\n' });
  const nc = await openConnection({ servers: tokenServer.url, token: 's3cret-token' });
  // A worker lent this connection but not its credentials could not heartbeat: it refuses to
  // start (invisible to the supervisor otherwise), saying what to do.
  await assert.rejects(startWorker(math, { connection: nc, logger: quiet }), unavailable(/heartbeat connection failed.*heartbeat: false/));
  assert.equal(nc.isClosed(), false, 'the lent connection is left open');
  const lent = await startWorker(math, { connection: nc, token: 's3cret-token', logger: quiet });
  await lent.stop();
  await nc.close();
  await assert.rejects(openConnection(withEnvDefaults({ servers: tokenServer.url }, { NATS_TOKEN: 'wrong' })), unavailable(/Authorization Violation/i));
});

test('security options are validated up front, naming the option', () => {
  assert.throws(() => natsOptions({ tlsCert: '/x.pem' }), /tlsCert and tlsKey go together/);
  assert.throws(() => natsOptions({ tlsCa: '/no/such/ca.pem' }), /tlsCa cannot be read/);
  assert.throws(() => natsOptions({ credsFile: '/a.creds', nkeySeed: 'SUAAAA' }), /exclusive/);
  assert.throws(() => natsOptions({ inboxPrefix: '_INBOX.*' }), /inboxPrefix must be/);
  assert.equal(natsOptions({ inboxPrefix: '_INBOX_caller' }).inboxPrefix, '_INBOX_caller');
  const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
  assert.equal(typeof natsOptions({ nkeySeed: seed }).authenticator, 'function');
});
