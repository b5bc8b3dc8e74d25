/**
 * A plain call that outlasts the broker's `allow_responses` expiry, under the shipped identities
 * (config/nats/cluster.conf + accounts.conf, with 25 s in place of the shipped 1 minute so the
 * test is short): the worker may publish to a request's reply subject only until the permission
 * expires, so a handler that answers later had its reply refused by the broker and the caller
 * ended with TIMEOUT though the worker had a result. The caller now moves a call that is still
 * running to a fresh reply subject of its inbox every STREAM_REPLY_MOVE_MS (20 s), as streams do,
 * and the worker answers on the newest one (docs/protocol.md, *Long calls*).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as natsConnect } from 'nats';
import { connect, startWorker } from '../src/index.js';
import { encodeRequest } from '../src/protocol/codec.js';
import { waitFor } from './helpers/load.js';
import { createLogger } from '../src/logging/logger.js';
import { serviceEnv } from './helpers/attack.js';
import { CLUSTER_CONFIG, identity, startSingleNode } from './helpers/cluster.js';
import { closing } from './helpers/nats.js';
import { spawnWorker } from './helpers/processes.js';
import { STREAM_REPLY_MOVE_MS } from '../src/client/stream-replies.js';

const quiet = createLogger('test', 'silent');
const EXPIRES_S = 25;

/** A copy of the shipped cluster.conf + accounts.conf with `expires` of EXPIRES_S, in a temporary directory. */
function shorterExpiry(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'longcall-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const accounts = readFileSync(join(CLUSTER_CONFIG, '..', 'accounts.conf'), 'utf8');
  const shorter = accounts.replaceAll('expires: "1m"', `expires: "${EXPIRES_S}s"`);
  assert.notEqual(shorter, accounts, 'the shipped accounts.conf sets expires: "1m"');
  writeFileSync(join(dir, 'accounts.conf'), shorter);
  writeFileSync(join(dir, 'cluster.conf'), readFileSync(CLUSTER_CONFIG, 'utf8'));
  return join(dir, 'cluster.conf');
}

test('a plain call that answers after allow_responses\' expiry gets its result: the caller moves it to a fresh reply subject', async (t) => {
  const config = shorterExpiry(t);
  assert.ok(STREAM_REPLY_MOVE_MS < EXPIRES_S * 1_000, 'the call moves before the permission expires');
  await using nats = await startSingleNode(config);
  await using _worker = await spawnWorker('test/fixtures/echo-streamer.ts', nats.url, [], serviceEnv('echo'));
  await using caller = closing(await connect({ servers: nats.url, ...identity('caller'), logger: quiet }), (c) => c.close());
  // Answers 5 s after the permission for the request's own reply subject expired; the budget
  // leaves 15 s more, so a refused reply ends as TIMEOUT, not as the result.
  const waitMs = EXPIRES_S * 1_000 + 5_000;
  const started = performance.now();
  const result = await caller.call<{ waitedMs: number }>('echo.wait', { ms: waitMs }, { timeoutMs: waitMs + 15_000 });
  assert.deepEqual(result, { waitedMs: waitMs });
  t.diagnostic(`answered after ${Math.round(performance.now() - started)} ms`);
});

test('a reply the broker refuses (a caller that asked no ack cannot move its call) is counted by the worker', async (t) => {
  await using nats = await startSingleNode(shorterExpiry(t));
  await using worker = closing(
    await startWorker(
      { service: 'echo', methods: { wait: async ({ ms }: { ms: number }, ctx) => (await sleep(ms, undefined, { signal: ctx.signal }), { waitedMs: ms }) } },
      { servers: nats.url, ...identity('echo'), logger: quiet, heartbeat: false },
    ),
    (w) => w.stop(),
  );
  // A bare caller (another client, say) that asks neither ack nor lateAck: it never learns the
  // worker, so it cannot move the call, and the reply comes after the permission expired.
  await using raw = closing(await natsConnect({ servers: nats.url, ...identity('caller') }), (c) => c.close());
  const reply = `_INBOX_caller.bare.${Date.now()}`;
  const answers = raw.subscribe(reply);
  const waitMs = EXPIRES_S * 1_000 + 2_000;
  raw.publish('rpc.echo.wait', encodeRequest({ v: 1, id: 'bare-1', method: 'wait', budgetMs: waitMs + 10_000, attempt: 1, payload: { ms: waitMs } }), { reply });
  assert.ok(await waitFor(() => worker.snapshot().refusedPublishes >= 1, waitMs + 10_000), 'the refused reply is counted');
  assert.equal(answers.getProcessed(), 0, 'the reply never reached the caller');
});
