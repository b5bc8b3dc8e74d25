/**
 * Attack: the `math` credential floods the supervisor with heartbeats of 10,000 made-up math
 * workers. Shipped configuration, real worker and supervisor processes.
 *
 * Holds when: an echo worker that starts after the flood is tracked and verified all the same,
 * the math service holds at most MAX_WORKERS_PER_SERVICE entries, and `natsrpc status` still
 * answers (its reply within the byte bound, truncated flagged when it is).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_WORKERS_PER_SERVICE } from '../src/supervisor/registry.js';
import { TEST_PASSWORDS } from './helpers/cluster.js';
import { sleep } from './helpers/load.js';
import { processGroup, runCli } from './helpers/processes.js';
import { connectAs, floodFakeMembers, Observer, spawnServiceWorker, spawnShippedSupervisor, startShippedBroker } from './helpers/attack.js';

const FLOOD = 10_000;

test('registry exhaustion: 10,000 made-up ids under one service never stop another service\'s workers from being tracked', async (t) => {
  await using broker = await startShippedBroker();
  await using group = processGroup();
  const math = await spawnServiceWorker(broker.url, 'math');
  group.push(math, await spawnShippedSupervisor(broker.url));
  await using observer = await Observer.start(broker.url);
  assert.ok(await observer.waitVerified([math.id]), 'the supervisor verifies the real math worker');

  await using attacker = await connectAs(broker.url, 'math', 'attacker');
  await floodFakeMembers(attacker, 'math', FLOOD);
  await sleep(500);
  // Again, so the made-up ids are not simply forgotten in between.
  await floodFakeMembers(attacker, 'math', FLOOD, 2);
  const echo = await spawnServiceWorker(broker.url, 'echo');
  group.push(echo);
  const tracked = await observer.waitVerified([echo.id, math.id], 20_000);
  const status = await observer.status(5_000);
  const rows = status.services.find((s) => s.service === 'math')?.workers ?? [];
  const cli = await runCli(['status', '--json', '--servers', broker.url, '--user', 'caller', '--pass', TEST_PASSWORDS.NATS_CALLER_PASS, '--inbox-prefix', '_INBOX_caller', '--timeout', '5000']);
  const cliStatus = cli.code === 0 ? (JSON.parse(cli.stdout) as { truncated: boolean; services: { service: string }[] }) : null;
  t.diagnostic(`registry exhaustion: ${JSON.stringify({ flood: FLOOD, echoTracked: tracked, mathRows: rows.length, fakeRowsVerified: rows.filter((w) => w.id.includes('flood') && w.member === 'verified').length, truncated: status.truncated, cliExit: cli.code, cliServices: cliStatus?.services.map((s) => s.service) })}`);
  assert.ok(tracked, 'the echo worker that started after the flood is tracked and verified');
  assert.ok(rows.length <= MAX_WORKERS_PER_SERVICE, `math holds at most ${MAX_WORKERS_PER_SERVICE} entries, not ${rows.length}`);
  assert.ok(rows.some((w) => w.id === math.id), 'the real math worker is still tracked');
  assert.equal(cli.code, 0, `natsrpc status answers: ${cli.stderr}`);
  assert.deepEqual(cliStatus!.services.map((s) => s.service).sort(), ['echo', 'math']);
});
