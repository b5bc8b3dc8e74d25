/**
 * What each exit code means (README.md, "Exit codes"), with the CLI run as a shell runs it:
 * 0 ok, 1 an RpcError, 2 usage, 3 broker unreachable; --timeout bounds connecting; --version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { defineWorker, RpcError, startWorker } from '../src/index.js';
import { freePort } from '../src/broker/local-server.js';
import { createLogger } from '../src/logging/logger.js';
import math from '../workers/math.js';
import { closing, startNats } from './helpers/nats.js';
import { runCliProcess } from './helpers/cli.js';
import { ROOT } from './helpers/processes.js';

const quiet = createLogger('test', 'silent');
const stop = (w: { stop(): Promise<void> }) => w.stop();

const odd = defineWorker({
  service: 'odd',
  methods: {
    bytes: () => new Uint8Array([0, 1, 2, 255]),
    text: () => 'two\nlines',
    big: () => 2n ** 60n,
    hostile: () => {
      throw new RpcError('NOPE', 'line one\nFAKE: \x1b[31mred\x1b[0m');
    },
  },
});

test('exit codes: 0 ok, 1 RpcError with CODE: message (escaped), 2 usage, 3 broker unreachable', async () => {
  await using nats = await startNats();
  await using _math = closing(await startWorker(math, { servers: nats.url, logger: quiet }), stop);
  await using _odd = closing(await startWorker(odd, { servers: nats.url, logger: quiet }), stop);
  const at = ['--servers', nats.url];

  const rejected = await runCliProcess({ args: ['call', 'math.div', '{"a":1,"b":0}', ...at] });
  assert.equal(rejected.code, 1);
  assert.equal(rejected.stderr, 'DIVIDE_BY_ZERO: cannot divide 1 by zero\n');
  assert.equal(rejected.stdout, '');
  const nobody = await runCliProcess({ args: ['call', 'billing.charge', '{}', ...at] });
  assert.equal(nobody.code, 1);
  assert.match(nobody.stderr, /^NO_RESPONDERS: /);

  // What comes from the bus cannot drive the terminal: one line, control characters escaped.
  const hostile = await runCliProcess({ args: ['call', 'odd.hostile', ...at] });
  assert.equal(hostile.code, 1);
  assert.equal(hostile.stderr, 'NOPE: line one\\nFAKE: \\u001b[31mred\\u001b[0m\n');

  for (const args of [['call', 'math'], ['call', 'a.b.c'], ['call', 'math.add', '{not json'], ['call', 'math.add', '--no-such-flag'], ['call'], ['nonsense']]) {
    const usage = await runCliProcess({ args: [...args, ...at] });
    assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
    assert.doesNotMatch(usage.stderr, /BAD_REQUEST/);
  }
  const malformed = await runCliProcess({ args: ['call', 'a.b.c', ...at] });
  assert.match(malformed.stderr, /target "a\.b\.c"/);

  const port = await freePort(); // nothing listens there
  const refused = await runCliProcess({ args: ['call', 'math.add', '{"a":1,"b":2}', '--servers', `nats://127.0.0.1:${port}`] });
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /cannot connect to NATS/);
});

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
  // The same process start without connecting, to subtract what starting node costs on this machine.
  const baseline = await runCliProcess({ args: ['--version'] });
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

test('every command that connects exits 3 when no broker can be reached', async () => {
  const url = `nats://127.0.0.1:${await freePort()}`; // nothing listens there
  const commands = [
    ['call', 'math.add', '{}', '--servers', url],
    ['worker', 'workers/math.ts', '--servers', url],
    ['ls', '--servers', url],
    ['info', 'math', '--servers', url],
    ['stats', '--servers', url],
    ['status', '--servers', url],
    ['supervisor', '--servers', url],
    ['dashboard', '--port', '0', '--servers', url],
  ];
  for (const args of commands) {
    const run = await runCliProcess({ args });
    assert.equal(run.code, 3, `natsrpc ${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /cannot connect to NATS/, args[0]);
  }
  const dev = await runCliProcess({ args: ['dev', '--once'], env: { NATS_URL: url } });
  assert.equal(dev.code, 3, dev.stderr);
});
