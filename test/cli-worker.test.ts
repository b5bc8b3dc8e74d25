/**
 * `natsrpc worker` as a process manager sees it: a module that fails to load exits 1 with its own
 * error and stack; a missing broker exits 3, or is waited for within --wait-for-broker; the worker
 * says which server it connected to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/index.js';
import { freePort } from '../src/broker/local-server.js';
import { createLogger } from '../src/logging/logger.js';
import { closing, startNats } from './helpers/nats.js';
import { runCliProcess } from './helpers/cli.js';
import { ChildHandle } from './helpers/processes.js';

const quiet = createLogger('test', 'silent');
const MATH = 'workers/math.ts';

/** The parsed JSON log line of `handle` whose msg is `msg`, once it is written. */
async function logEntry(handle: ChildHandle, msg: string): Promise<Record<string, unknown>> {
  const line = await handle.waitForLine(new RegExp(`"msg":${JSON.stringify(msg)}`));
  return JSON.parse(line) as Record<string, unknown>;
}

test('a worker module that fails to load exits 1 with its own error and stack; a missing file is a usage error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'natsrpc-worker-'));
  const cases = {
    'throws.mjs': ['function boot() { throw new Error("config missing: DATABASE_URL"); }\nboot();\nexport default {};\n', /config missing: DATABASE_URL/],
    'syntax.mjs': ['export default { service: "x", methods: { a: () => 1 ;\n', /SyntaxError|Unexpected token/],
    'missing-package.mjs': ['import "no-such-package-natsrpc-test";\nexport default {};\n', /no-such-package-natsrpc-test/],
    'not-a-worker.mjs': ['export default 42;\n', /must default-export a worker definition/],
  } as const;
  for (const [file, [source, message]] of Object.entries(cases)) {
    const path = join(dir, file);
    writeFileSync(path, source);
    const run = await runCliProcess({ args: ['worker', path, '--servers', 'nats://127.0.0.1:1'] });
    assert.equal(run.code, 1, `${file}: ${run.stderr}`);
    assert.match(run.stderr, message, file);
    assert.doesNotMatch(run.stderr, /--help/, `${file}: not reported as a usage error`);
  }
  const thrown = await runCliProcess({ args: ['worker', join(dir, 'throws.mjs')] });
  // The stack names the module's own frames, so the author sees where it threw.
  assert.match(thrown.stderr, /at boot \(file:\/\/.*throws\.mjs:1:\d+\)/);

  const absent = await runCliProcess({ args: ['worker', join(dir, 'absent.mjs')] });
  assert.equal(absent.code, 2, absent.stderr);
  assert.match(absent.stderr, /no such worker module/);
});

test('without a broker a worker exits 3 at once; with --wait-for-broker it waits, then serves once one starts', async () => {
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const gone = await runCliProcess({ args: ['worker', MATH, '--servers', url] });
  assert.equal(gone.code, 3, gone.stderr);
  assert.match(gone.stderr, /cannot connect to NATS/);

  await using worker = new ChildHandle(['worker', MATH, '--servers', url, '--wait-for-broker', '60000']);
  const waiting = await logEntry(worker, 'waiting for the broker');
  assert.equal(waiting.waitMs, 60_000);
  await using nats = await startNats({ port });
  await logEntry(worker, 'worker ready');
  const where = await logEntry(worker, 'connected to NATS');
  await using client = closing(await connect({ servers: url, logger: quiet }), (c) => c.close());
  assert.equal(where.serverId, client.connection.info?.server_id);
  assert.match(String(where.server), new RegExp(`:${port}$`));
  assert.equal(await client.call('math.add', { a: 2, b: 2 }), 4);
  worker.signal('SIGTERM');
  assert.equal((await worker.exited).code, 0);
  void nats;
});

test('--wait-for-broker gives up after its bound with exit 3', async () => {
  const port = await freePort();
  const run = await runCliProcess({ args: ['worker', MATH, '--servers', `nats://127.0.0.1:${port}`, '--wait-for-broker', '600'] });
  assert.equal(run.code, 3, run.stderr);
  assert.match(run.stderr, /no broker within 600 ms/);
});
