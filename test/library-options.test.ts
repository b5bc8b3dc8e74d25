/**
 * What the CLI's supervisor and worker flags do is reachable from the library through options:
 * the metrics endpoint (`metrics`), signed control commands (`signing` on the supervisor,
 * `trustedKeys` on the worker), with bad values refused up front, naming the option.
 * (Fencing with `$SYS` credentials, the `fencing` option, is exercised through the CLI, which maps
 * --sys-user/--sys-pass onto it, in fencing.test.ts and supervisor-loss-relay.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { defineWorker, startSupervisor, startWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { closing, startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';

const logger = createLogger('test', 'silent');
const seedOf = (kp: ReturnType<typeof nkeys.createUser>) => new TextDecoder().decode(kp.getSeed());
const echo = defineWorker({ service: 'libopt', methods: { echo: (x: unknown) => x } });

test('startSupervisor({ metrics }) serves Prometheus metrics of the workers it hears, and close() stops the endpoint', async () => {
  await using nats = await startNats();
  await using sup = closing(await startSupervisor({ servers: nats.url, intervalMs: 200, logger, metrics: { port: 0, host: '127.0.0.1' } }), (s) => s.close());
  await using _worker = closing(await startWorker(echo, { servers: nats.url, logger, heartbeatIntervalMs: 200 }), (w) => w.stop());
  const port = sup.metricsPort;
  assert.ok(port !== null && port > 0, `metrics port ${port}`);
  assert.ok(await waitFor(async () => (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).includes('service="libopt"'), 15_000), 'the worker appears in the metrics');
  await sup.close();
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'the endpoint is closed with the supervisor');
});

test('signing on the supervisor and trustedKeys on the worker take a seed, a seed file and public keys; bad values name the option', async () => {
  await using nats = await startNats();
  const kp = nkeys.createUser();
  const dir = mkdtempSync(join(tmpdir(), 'natsrpc-seed-'));
  try {
    const seedFile = join(dir, 'supervisor.nk');
    writeFileSync(seedFile, seedOf(kp) + '\n');
    for (const signing of [{ seed: seedOf(kp) }, { seedFile }]) {
      const sup = await startSupervisor({ servers: nats.url, logger, signing });
      await sup.close();
    }
    await assert.rejects(startSupervisor({ servers: nats.url, logger, signing: { seedFile: join(dir, 'missing.nk') } }), (err: Error) => err instanceof TypeError && /signing\.seedFile/.test(err.message));
    await assert.rejects(startSupervisor({ servers: nats.url, logger, signing: { seed: 'SUnot-a-seed' } }), (err: Error) => err instanceof TypeError && /signing\.seed/.test(err.message));
    await assert.rejects(startSupervisor({ servers: nats.url, logger, signing: { seed: seedOf(kp) }, signCommand: (c) => c }), /exclusive/);

    const worker = await startWorker(echo, { servers: nats.url, logger, trustedKeys: [kp.getPublicKey()] });
    await worker.stop();
    await assert.rejects(startWorker(echo, { servers: nats.url, logger, trustedKeys: ['not-a-key'] }), (err: Error) => err instanceof TypeError && /trustedKeys/.test(err.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
