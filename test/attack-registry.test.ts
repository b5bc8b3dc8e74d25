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
import { resolvePolicy } from '../src/supervisor/policy.js';
import { MAX_WORKERS_PER_SERVICE, WorkerRegistry } from '../src/supervisor/registry.js';
import { TEST_PASSWORDS } from './helpers/cluster.js';
import { sleep } from './helpers/load.js';
import { processGroup, runCli } from './helpers/processes.js';
import { connectAs, floodFakeMembers, forgedHeartbeat, Observer, spawnServiceWorker, spawnShippedSupervisor, startShippedBroker } from './helpers/attack.js';

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

test('registry bounds: a full service evicts refuted, then unchecked members, never verified ones; without a broker check it takes no new worker', () => {
  const policy = resolvePolicy({});
  const reg = new WorkerRegistry(policy, true);
  const ids = Array.from({ length: MAX_WORKERS_PER_SERVICE }, (_, i) => `math-${String(i).padStart(12, '0')}`);
  ids.forEach((id, i) => reg.ingest(forgedHeartbeat('math', id, { clientId: i + 1 }), i));
  const [verified, refuted] = [reg.get(ids[0]!)!, reg.get(ids[1]!)!];
  reg.checked(verified, verified.hb.serverId, verified.hb.clientId, 'verified');
  reg.checked(refuted, refuted.hb.serverId, refuted.hb.clientId, 'refuted');
  reg.ingest(forgedHeartbeat('math', 'math-new000000001'), 10_000);
  assert.equal(reg.get(ids[1]!), undefined, 'the refuted member went first');
  reg.ingest(forgedHeartbeat('math', 'math-new000000002'), 10_001);
  assert.equal(reg.get(ids[2]!), undefined, 'then the longest silent unchecked one');
  assert.ok(reg.get(ids[0]!), 'the verified member stays');
  reg.ingest(forgedHeartbeat('echo', 'echo-000000000001'), 10_002);
  assert.ok(reg.get('echo-000000000001'), 'another service is tracked');
  assert.equal(reg.evicted, 2);

  const plain = new WorkerRegistry(policy);
  ids.forEach((id, i) => plain.ingest(forgedHeartbeat('math', id), i));
  plain.ingest(forgedHeartbeat('math', 'math-new000000001'), 10_000);
  assert.equal(plain.get('math-new000000001'), undefined, 'no check: a full service takes no new worker');
  assert.equal(plain.size, MAX_WORKERS_PER_SERVICE);
});
