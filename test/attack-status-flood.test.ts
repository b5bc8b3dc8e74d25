/**
 * Attack: a caller sends 20,000 status requests at once to a supervisor whose registry holds
 * 1,000 (made-up) workers, so each reply is hundreds of KiB. Shipped configuration, real
 * supervisor process.
 *
 * Holds when: the supervisor sends at most MAX_STATUS_REPLIES_PER_SEC replies a second (plus one
 * burst), its memory stays bounded, and it answers status normally once the flood is over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_STATUS_BYTES } from '../src/supervisor/status.js';
import { MAX_STATUS_REPLIES_PER_SEC } from '../src/supervisor/status-replies.js';
import { sleep, waitFor } from './helpers/load.js';
import { processGroup } from './helpers/processes.js';
import { connectAs, floodFakeMembers, Observer, processUsage, spawnShippedSupervisor, startShippedBroker } from './helpers/attack.js';

const REQUESTS = 20_000;
const RSS_GROWTH_LIMIT = 256 * 1024 * 1024;

test('status flood: 20,000 status requests cost the supervisor a bounded number of replies and bounded memory', async (t) => {
  await using broker = await startShippedBroker();
  await using group = processGroup();
  const sup = await spawnShippedSupervisor(broker.url);
  group.push(sup);
  await using observer = await Observer.start(broker.url);
  await using attacker = await connectAs(broker.url, 'math', 'attacker');
  await floodFakeMembers(attacker, 'math', 1_000);
  assert.ok(await waitFor(async () => (await observer.status().catch(() => null))?.services.some((s) => s.workers.length >= 900) ?? false, 10_000), 'the registry holds the made-up workers');
  const sizes: number[] = [];
  let replies = 0;
  await using flooder = await connectAs(broker.url, 'caller', 'flooder');
  flooder.subscribe('_INBOX_caller.flood.*', { callback: (_e, m) => { replies++; sizes.push(m.data.length); } });
  await flooder.flush();
  await sleep(1_000); // the observer's own requests used part of the budget: let it refill
  const before = processUsage(sup.pid);
  const started = Date.now();
  let peakRss = before.rssBytes;
  for (let i = 0; i < REQUESTS; i++) {
    flooder.publish('rpc._sup.status', new Uint8Array(0), { reply: `_INBOX_caller.flood.${i}` });
    if (i % 1_000 === 999) {
      await flooder.flush();
      peakRss = Math.max(peakRss, processUsage(sup.pid).rssBytes);
    }
  }
  await flooder.flush();
  // Let the supervisor work through what reached it: until no reply came for 3 s (at most 60 s).
  let last = -1;
  let quietS = 0;
  while (quietS < 3 && Date.now() - started < 60_000) {
    quietS = last === replies ? quietS + 1 : 0;
    last = replies;
    peakRss = Math.max(peakRss, processUsage(sup.pid).rssBytes);
    await sleep(1_000);
  }
  const elapsedS = (Date.now() - started) / 1_000;
  const after = processUsage(sup.pid);
  const answered = await waitFor(() => observer.status(5_000).then(() => true, () => false), 20_000);
  const result = { requests: REQUESTS, replies, elapsedS, maxReplyBytes: Math.max(0, ...sizes), rssBeforeMB: before.rssBytes >> 20, peakRssMB: peakRss >> 20, cpuMs: after.cpuMs - before.cpuMs, answeredAfter: answered };
  t.diagnostic(`status flood: ${JSON.stringify(result)}`);
  assert.ok(replies <= MAX_STATUS_REPLIES_PER_SEC * (elapsedS + 1), `at most ${MAX_STATUS_REPLIES_PER_SEC} replies a second, not ${replies} in ${elapsedS} s`);
  assert.ok(sizes.every((n) => n <= MAX_STATUS_BYTES), 'every reply within the byte bound');
  assert.ok(peakRss - before.rssBytes < RSS_GROWTH_LIMIT, `memory grew by ${(peakRss - before.rssBytes) >> 20} MiB`);
  assert.ok(answered, `status is answered again after the flood: ${sup.lines.slice(-5).join('\n')}`);
});
