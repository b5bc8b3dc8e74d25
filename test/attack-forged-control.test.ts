/**
 * Attack: an anonymous client of a default broker (config/nats-server.conf: no accounts, anyone
 * may publish anything) sends a worker a forged `shutdown` on its control subject. A worker that
 * trusts a signing key refuses it and keeps serving; the unsigned demo worker obeys it (the demo
 * is unsigned on loopback, docs/deployment.md, *Threat model*). A worker that runs unsigned in
 * production says so in its discovery metadata, a typed signal, and in `natsrpc ls`, besides its
 * warning log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nkeys, type NatsConnection } from 'nats';
import { openConnection } from '../src/connection/options.js';
import { decodeChecked, encode } from '../src/protocol/codec.js';
import { controlSubject } from '../src/protocol/subjects.js';
import { startWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { UNSIGNED_CONTROL_IN_PRODUCTION } from '../src/worker/control-auth.js';
import { closing, startNats } from './helpers/nats.js';
import { sleep } from './helpers/load.js';
import { spawnWorker, workerIdOf, type ChildHandle } from './helpers/processes.js';
import { BROKER_CONFIG } from './helpers/supervision.js';
import { runCliProcess } from './helpers/cli.js';

const MATH = 'workers/math.ts';

/** The forged command: well-formed, for the right target, fresh, and unsigned. */
const forgedShutdown = (target: string) => ({ v: 1, id: 'forged0123456789', cmd: 'shutdown', target, from: 'anonymous', ts: Date.now(), reason: 'forged' });

async function metadataOf(nc: NatsConnection, workerId: string): Promise<Record<string, string>> {
  const reply = await nc.request(`$SRV.INFO.math.${workerId}`, new Uint8Array(0), { timeout: 5_000 });
  return (JSON.parse(new TextDecoder().decode(reply.data)) as { metadata: Record<string, string> }).metadata;
}

/** The worker is alive and serving: its process runs and it answers discovery as `serving`. */
async function assertServing(nc: NatsConnection, worker: ChildHandle): Promise<void> {
  assert.equal(worker.child.exitCode, null, 'the worker process is still running');
  assert.equal((await metadataOf(nc, workerIdOf(worker)))['natsrpc.state'], 'serving');
}

test('a worker given trusted keys refuses an anonymous forged shutdown and keeps serving; the unsigned demo worker obeys it', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  const key = nkeys.createUser();
  await using signed = await spawnWorker(MATH, nats.url, ['--trusted-key', key.getPublicKey()]);
  await using demo = await spawnWorker(MATH, nats.url);
  await using anonymous = closing(await openConnection({ servers: nats.url }), (nc) => nc.close());

  assert.deepEqual(await metadataOf(anonymous, workerIdOf(signed)).then((m) => [m['natsrpc.control'], m['natsrpc.warning']]), ['verified', undefined]);
  const refused = decodeChecked((await anonymous.request(controlSubject('rpc', 'math', workerIdOf(signed)), encode(forgedShutdown(workerIdOf(signed))), { timeout: 5_000 })).data) as { ok: boolean; error?: string };
  assert.equal(refused.ok, false);
  assert.match(refused.error ?? '', /unsigned/);
  await sleep(500); // room for a shutdown that would have been obeyed anyway
  await assertServing(anonymous, signed);

  // The same forged command stops the unsigned demo worker: what signing prevents.
  assert.equal((await metadataOf(anonymous, workerIdOf(demo)))['natsrpc.control'], 'unsigned');
  const obeyed = decodeChecked((await anonymous.request(controlSubject('rpc', 'math', workerIdOf(demo)), encode(forgedShutdown(workerIdOf(demo))), { timeout: 5_000 })).data) as { ok: boolean };
  assert.equal(obeyed.ok, true);
  assert.deepEqual(await demo.exited, { code: 0, signal: null }, 'the unsigned worker was shut down by an anonymous client');
  await assertServing(anonymous, signed);
});

test('a worker started with NODE_ENV=production and no trusted keys says so in its discovery metadata', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using prod = await spawnWorker(MATH, nats.url, [], { NODE_ENV: 'production', NATSRPC_TRUSTED_KEYS: undefined });
  await using dev = await spawnWorker(MATH, nats.url, [], { NODE_ENV: undefined, NATSRPC_TRUSTED_KEYS: undefined });
  await using signedProd = await spawnWorker(MATH, nats.url, ['--trusted-key', nkeys.createUser().getPublicKey()], { NODE_ENV: 'production' });
  await using nc = closing(await openConnection({ servers: nats.url }), (c) => c.close());
  const m = await metadataOf(nc, workerIdOf(prod));
  assert.deepEqual([m['natsrpc.control'], m['natsrpc.warning']], ['unsigned', UNSIGNED_CONTROL_IN_PRODUCTION]);
  const d = await metadataOf(nc, workerIdOf(dev));
  assert.deepEqual([d['natsrpc.control'], d['natsrpc.warning']], ['unsigned', undefined], 'the demo runs unsigned without a warning');
  const s = await metadataOf(nc, workerIdOf(signedProd));
  assert.deepEqual([s['natsrpc.control'], s['natsrpc.warning']], ['verified', undefined]);
  // natsrpc ls says it to the operator.
  const ls = await runCliProcess({ args: ['ls', '--servers', nats.url, '--timeout', '2000'] });
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`^math\\s+${workerIdOf(prod)}\\s.*UNSIGNED IN PRODUCTION$`, 'm'));
  assert.match(ls.stdout, new RegExp(`^math\\s+${workerIdOf(dev)}\\s.*\\sunsigned$`, 'm'));
  assert.match(ls.stdout, new RegExp(`^math\\s+${workerIdOf(signedProd)}\\s.*\\sverified$`, 'm'));
});

test('a worker on a broker that requires authentication (the production configuration) and no trusted keys warns too', async () => {
  await using nats = await startNats({ configText: 'authorization { token: "s3cret-token-for-test" }\n' });
  const quiet = createLogger('test', 'silent');
  const math = (await import('../workers/math.js')).default;
  await using unsigned = closing(await startWorker(math, { servers: nats.url, token: 's3cret-token-for-test', logger: quiet }), (w) => w.stop());
  assert.deepEqual({ ...unsigned.security }, { control: 'unsigned', warning: UNSIGNED_CONTROL_IN_PRODUCTION });
  await using verified = closing(await startWorker(math, { servers: nats.url, token: 's3cret-token-for-test', logger: quiet, trustedKeys: [nkeys.createUser().getPublicKey()] }), (w) => w.stop());
  assert.deepEqual({ ...verified.security }, { control: 'verified' });
  await using off = closing(await startWorker(math, { servers: nats.url, token: 's3cret-token-for-test', logger: quiet, heartbeat: false }), (w) => w.stop());
  assert.deepEqual({ ...off.security }, { control: 'off' });
});
