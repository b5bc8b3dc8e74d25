/**
 * --timeout bounds connecting (exit 3 against a listener that never speaks); --version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../src/broker/local-server.js';
import { closing } from './helpers/nats.js';
import { runCliProcess } from './helpers/cli.js';
import { ROOT } from './helpers/processes.js';

test('--timeout bounds connecting: against a listener that never speaks the call ends with exit 3', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  await using _silent = closing(silent, (s) => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => s.close(resolve));
  });
  const { port } = silent.address() as { port: number };
  const timeoutMs = 1_000;
  // The same command against a port where nothing listens (refused at once): the same start-up
  // and module loading, to subtract what they cost on this machine.
  const baseline = await runCliProcess({ args: ['call', 'math.add', '{}', '--timeout', String(timeoutMs), '--servers', `nats://127.0.0.1:${await freePort()}`] });
  assert.equal(baseline.code, 3, baseline.stderr);
  const run = await runCliProcess({ args: ['call', 'math.add', '{}', '--timeout', String(timeoutMs), '--servers', `nats://127.0.0.1:${port}`] });
  assert.equal(run.code, 3, run.stderr);
  assert.match(run.stderr, /cannot connect to NATS/);
  const spent = run.elapsedMs - baseline.elapsedMs;
  assert.ok(spent < 3 * timeoutMs, `connecting took ${spent.toFixed(0)} ms beyond start-up with --timeout ${timeoutMs}`);
  assert.ok(sockets.size > 0, 'the CLI did reach the silent listener');
});

test('--version prints the version in package.json', async () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-v']) {
    const run = await runCliProcess({ args: [flag] });
    assert.deepEqual([run.code, run.stdout], [0, `${version}\n`], run.stderr);
  }
});
