/**
 * Attack: the `math` credential (allowed to publish `rpc._hb.math.>`) sends heartbeats under the
 * real math workers' ids claiming 100 faults, plus heartbeats of made-up healthy members to raise
 * the drain budget. Shipped configuration, real worker and supervisor processes.
 *
 * Holds when: the made-up members are refuted by the broker check and never counted, so at most
 * `maxDrainPercent` of the 3 real workers (1) is drained, and math.add keeps answering.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, RpcError } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { drainBudget } from '../src/supervisor/ejection.js';
import { identity } from './helpers/cluster.js';
import { sleep } from './helpers/load.js';
import { processGroup } from './helpers/processes.js';
import { connectAs, forgedHeartbeat, Observer, publishHeartbeat, spawnServiceWorker, spawnShippedSupervisor, startShippedBroker } from './helpers/attack.js';

const FAKES = 20;
const ATTACK_MS = 3_000;

test('forged heartbeats: real ids claiming faults and fake healthy members drain at most maxDrainPercent of the real workers', async (t) => {
  await using broker = await startShippedBroker();
  await using group = processGroup();
  const workers = [];
  // One at a time: three starting at once on a loaded machine can miss the start timeout.
  for (let i = 0; i < 3; i++) group.push(workers[i] = await spawnServiceWorker(broker.url, 'math'));
  // A long ejection: nothing drained during the attack comes back before the end of the test.
  group.push(await spawnShippedSupervisor(broker.url, { baseEjectionMs: 60_000, maxDrainPercent: 50 }));
  await using observer = await Observer.start(broker.url);
  assert.ok(await observer.waitVerified(workers.map((w) => w.id)), 'the supervisor verifies the three real workers');
  const before = await observer.status();
  const real = before.services.find((s) => s.service === 'math')!.workers;

  await using attacker = await connectAs(broker.url, 'math', 'attacker');
  const stopAt = Date.now() + ATTACK_MS;
  let seq = 1_000_000;
  while (Date.now() < stopAt) {
    seq++;
    for (const w of real) {
      // The worst forgery: the real connection ids, an early heartbeat, a fault streak.
      publishHeartbeat(attacker, forgedHeartbeat('math', w.id, { serverId: w.serverId, clientId: w.clientId, seq, startedAt: 1, consecutiveFaults: 100, failed: { INTERNAL: 100 }, early: true }));
    }
    for (let i = 0; i < FAKES; i++) {
      // Healthy fakes naming real connections (the workers', the attacker's own) or none at all.
      const named = real[i % real.length]!;
      const clientId = i % 3 === 0 ? attacker.info!.client_id : i % 3 === 1 ? named.clientId : 999_999;
      publishHeartbeat(attacker, forgedHeartbeat('math', `math-fake${String(i).padStart(8, '0')}`, { serverId: named.serverId, clientId, seq }));
    }
    await sleep(50);
  }
  await attacker.flush();
  await sleep(1_000);

  const drained = new Set(observer.eventsOf('drain').concat(observer.eventsOf('shutdown')).map((e) => e.workerId));
  const drainedReal = real.filter((w) => drained.has(w.id)).length;
  const fakesDrained = [...drained].filter((id) => id?.startsWith('math-fake')).length;
  const status = await observer.status();
  const math = status.services.find((s) => s.service === 'math')!.workers;
  const fakes = math.filter((w) => w.id.startsWith('math-fake'));
  const client = await connect({ servers: broker.url, ...identity('caller'), logger: createLogger('test', 'silent') });
  let answered = 0;
  const failures: string[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      try {
        if ((await client.call('math.add', { a: i, b: 1 }, { timeoutMs: 2_000 })) === i + 1) answered++;
      } catch (err) {
        failures.push(err instanceof RpcError ? err.code : String(err));
      }
    }
  } finally {
    await client.close();
  }
  t.diagnostic(`forged heartbeats: ${JSON.stringify({ realWorkers: real.length, fakes: FAKES, drainedReal, fakesDrained, fakesInStatus: fakes.length, fakeStandings: [...new Set(fakes.map((f) => f.member))], withheld: observer.eventsOf('withheld').length, answered, failures })}`);
  assert.ok(drainedReal <= drainBudget(real.length, 50), `at most ${drainBudget(real.length, 50)} of ${real.length} real workers drained, not ${drainedReal}`);
  assert.equal(fakesDrained, 0, 'no command goes to a made-up member');
  assert.ok(fakes.every((f) => f.member !== 'verified'), 'no made-up member is verified');
  assert.equal(answered, 20, `math.add keeps answering: ${failures.join(', ')}`);
});
