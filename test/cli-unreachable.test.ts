/**
 * Exit 3 (README.md, "Exit codes"): every command that connects says so when no broker can be
 * reached, instead of exiting 1 as if a call had failed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../src/broker/local-server.js';
import { runCliProcess } from './helpers/cli.js';

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
