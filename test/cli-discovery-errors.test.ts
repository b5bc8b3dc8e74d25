/**
 * ls, info and stats when nothing answers: exit 1 for a named service with no worker, 2 for a bad
 * service name or arguments, 3 without a broker; ls with no answers exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../src/broker/local-server.js';
import { startNats } from './helpers/nats.js';
import { runCliProcess } from './helpers/cli.js';

test('info and stats exit 1 when no worker of the service answers, 2 on a bad service name, 3 without a broker', async () => {
  await using nats = await startNats();
  const at = ['--servers', nats.url, '--timeout', '3000'];
  const none = await runCliProcess({ args: ['info', 'billing', ...at] });
  assert.equal(none.code, 1, none.stderr);
  assert.match(none.stderr, /no worker of service "billing" answered/);
  const noStats = await runCliProcess({ args: ['stats', 'billing', ...at] });
  assert.equal(noStats.code, 1, noStats.stderr);
  const empty = await runCliProcess({ args: ['ls', ...at] });
  assert.deepEqual([empty.code, empty.stdout], [0, 'no services answered\n'], empty.stderr);
  assert.doesNotMatch(empty.stderr, /ignored/, "the broker's 503 (nobody listens) is not an answer of the wrong shape");
  assert.deepEqual((await runCliProcess({ args: ['ls', '--json', ...at] })).stdout, '[]\n');
  for (const args of [['info'], ['info', 'math.>'], ['stats', 'a', 'b'], ['ls', 'x']]) {
    const usage = await runCliProcess({ args: [...args, ...at] });
    assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
  }
  const port = await freePort();
  const unreachable = await runCliProcess({ args: ['ls', '--servers', `nats://127.0.0.1:${port}`] });
  assert.equal(unreachable.code, 3, unreachable.stderr);
});
