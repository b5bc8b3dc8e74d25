/**
 * Exit codes (README.md, "Exit codes") with the CLI run as a shell runs it: 0 ok, 1 an RpcError
 * with CODE: message on stderr (escaped), 2 usage. Exit 3: cli-unreachable.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import math from '../workers/math.js';
import odd from './fixtures/odd.js';
import { closing, startNats } from './helpers/nats.js';
import { runCliProcess } from './helpers/cli.js';

const quiet = createLogger('test', 'silent');
const stop = (w: { stop(): Promise<void> }) => w.stop();

test('exit codes: 0 ok, 1 RpcError with CODE: message (escaped), 2 usage (3: cli-unreachable.test.ts)', async () => {
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
    if (args[1] === 'a.b.c') assert.match(usage.stderr, /target "a\.b\.c"/);
  }
});
