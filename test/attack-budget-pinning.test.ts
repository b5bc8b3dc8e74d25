/**
 * Budget pinning: a caller sends requests whose `budgetMs` is a day, to hold every slot of a
 * service's workers for as long as their handlers will run. Workers cap each request's budget at
 * their own `maxBudgetMs` and at the supervisor's maximum for the service, so the handler's
 * deadline (and its signal) is the capped one and the slot frees at the cap. Before the cap, the
 * handler's deadline was a day away and the slot stayed held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInbox, type NatsConnection } from 'nats';
import { connect, defineWorker, startWorker } from '../src/index.js';
import { startSupervisor } from '../src/supervisor/start-supervisor.js';
import { openConnection } from '../src/connection/options.js';
import { createLogger } from '../src/logging/logger.js';
import { decodeReply, encode, encodeRequest } from '../src/protocol/codec.js';
import type { ReplyEnvelope } from '../src/protocol/envelope.js';
import { closing, startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');
const DAY_MS = 86_400_000;

/** A service whose handler holds its slot until its signal fires, and records the deadline it was given. */
function holder(seen: { budgetMs: number }[]) {
  return defineWorker({
    service: 'holder',
    methods: {
      hold: async (_: unknown, ctx) => {
        seen.push({ budgetMs: ctx.deadline - Date.now() });
        await sleep(DAY_MS, undefined, { signal: ctx.signal });
        return 'slept a day';
      },
    },
  });
}

/** Sends one request with a one-day budget from a plain connection; resolves with the worker's reply, or null after `waitMs`. */
async function pin(nc: NatsConnection, id: string, waitMs = 30_000): Promise<ReplyEnvelope | null> {
  const inbox = createInbox();
  const sub = nc.subscribe(inbox, { max: 1, timeout: waitMs });
  nc.publish('rpc.holder.hold', encodeRequest({ v: 1, id, method: 'hold', budgetMs: DAY_MS, attempt: 1, payload: null }), { reply: inbox });
  try {
    for await (const msg of sub) return decodeReply(msg.data);
  } catch {
    // the subscription's timeout: no reply within waitMs
  }
  return null;
}

test('a request asking for a one-day budget gets the worker\'s maxBudgetMs: the handler\'s deadline is capped and the slot frees at the cap', async () => {
  await using nats = await startNats();
  const seen: { budgetMs: number }[] = [];
  const CAP_MS = 1_500;
  await using _worker = closing(
    await startWorker(holder(seen), { servers: nats.url, logger: quiet, heartbeat: false, concurrency: 1, maxBudgetMs: CAP_MS }),
    (w) => w.stop(),
  );
  await using attacker = closing(await openConnection({ servers: nats.url }), (nc) => nc.close());
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());
  const pinned = pin(attacker, 'pin-1');
  assert.ok(await waitFor(() => seen.length === 1, 5_000), 'the pinning request runs');
  assert.ok(seen[0]!.budgetMs <= CAP_MS, `the handler's deadline is within the cap: ${seen[0]!.budgetMs} ms`);
  // The worker's own deadline ends the handler at the cap, and its slot is free for a legitimate call.
  const reply = (await pinned)!;
  assert.ok(reply !== null && !reply.ok && reply.error.code === 'TIMEOUT', `the pinning request ended at the cap: ${JSON.stringify(reply)}`);
  const legit = client.call('holder.hold', null, { timeoutMs: 200, waitForWorkers: true }).catch((e: { code: string }) => e.code);
  assert.equal(await legit, 'TIMEOUT', 'a legitimate call got the freed slot (and its own deadline)');
  assert.equal(seen.length, 2);
});

test('a worker caps budgets at the supervisor\'s maximum for its service', async () => {
  await using nats = await startNats();
  const seen: { budgetMs: number }[] = [];
  const MAX_MS = 1_200;
  await using _sup = closing(
    await startSupervisor({ servers: nats.url, logger: quiet, intervalMs: 100, deadlines: { holder: { defaultMs: 500, maxMs: MAX_MS }, tiny: { defaultMs: 5, maxMs: 5 } } }),
    (s) => s.close(),
  );
  await using _worker = closing(await startWorker(holder(seen), { servers: nats.url, logger: quiet, heartbeat: false, concurrency: 4, drainTimeoutMs: 500 }), (w) => w.stop());
  await using attacker = closing(await openConnection({ servers: nats.url }), (nc) => nc.close());
  // The worker learns the policy from the leader's heartbeat (every 100 ms here).
  let n = 0;
  assert.ok(
    await waitFor(async () => {
      const reply = await pin(attacker, `pin-${++n}`, 2_000);
      return reply !== null && !reply.ok && reply.error.code === 'TIMEOUT' && seen.at(-1)!.budgetMs <= MAX_MS;
    }, 10_000),
    `the policy's maximum caps the budget: ${JSON.stringify(seen.slice(-3))}`,
  );
});

test('a worker ignores a policy maximum below MIN_POLICY_BUDGET_CAP_MS, 1 s (a forged supervisor heartbeat cannot make it abort every call)', async () => {
  await using nats = await startNats();
  await using forger = closing(await openConnection({ servers: nats.url }), (nc) => nc.close());
  const seen: { budgetMs: number }[] = [];
  await using _worker = closing(await startWorker(holder(seen), { servers: nats.url, logger: quiet, heartbeat: false, drainTimeoutMs: 500 }), (w) => w.stop());
  await using client = closing(await connect({ servers: nats.url, logger: quiet, deadlinePolicy: false }), (c) => c.close());
  // A forged leader heartbeat: every service's maximum 150 ms (above the clients' own floor of 100 ms,
  // so the policy cache keeps it; below the workers' 1 s).
  const forge = () =>
    forger.publish('rpc._sup.hb', encode({ v: 1, id: 'sup-forged', startedAt: 1, ts: Date.now(), intervalMs: 1_000, leader: true, deadlines: { '*': { defaultMs: 150, maxMs: 150 } } }));
  forge();
  await forger.flush();
  await sleep(100);
  forge();
  const outcome = await client.call('holder.hold', null, { timeoutMs: 300 }).catch((e: { code: string }) => e.code);
  assert.equal(outcome, 'TIMEOUT');
  assert.ok(seen.length === 1 && seen[0]!.budgetMs > 200, `the handler got the caller's budget, not 150 ms: ${JSON.stringify(seen)}`);
});
