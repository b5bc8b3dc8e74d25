/**
 * Attacks on the integrity of calls, on a default broker (anyone may publish anything), by an
 * attacker that serves a service of its own and so sees one request of its victim: its reply
 * subject and its request id. From those it predicts the victim's next reply subjects and ids and
 * tries to answer, fail or cancel the victim's calls to other services:
 *   - forged results: requests to `echo` with the predicted ids, reply-to the predicted subjects;
 *   - id-less errors: malformed requests to `echo` and `$SRV.PING` reflected onto those subjects,
 *     and `id: ""` error envelopes published there directly;
 *   - cancels of the predicted ids on `rpc._cancel.slow`, with and without guessed reply tokens;
 *   - forged stream credit for a stream of the victim's.
 * The calls must all return their genuine results. Before reply tokens (reply subjects were
 * `<inbox>.<counter>`), the same test saw forged results, BAD_REQUEST/INTERNAL failures and
 * cancelled calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Msg } from 'nats';
import { connect, defineWorker, startWorker } from '../src/index.js';
import { openConnection } from '../src/connection/options.js';
import { createLogger } from '../src/logging/logger.js';
import { decodeRequest, encode, encodeReply, encodeRequest } from '../src/protocol/codec.js';
import echo from '../workers/echo.js';
import slow from '../workers/slow.js';
import { closing, startNats } from './helpers/nats.js';
import { sleep, waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');

/** The attacker's guesses of the reply subjects a client hands out after `seen`. */
function predictSubjects(seen: string, n: number): string[] {
  const dot = seen.lastIndexOf('.');
  const prefix = seen.slice(0, dot + 1);
  const last = seen.slice(dot + 1);
  // A counter is predicted; a random token leaves the attacker only guesses (and the one it saw).
  if (/^\d+$/.test(last)) return Array.from({ length: n }, (_, i) => prefix + (Number(last) + 1 + i));
  return [seen, ...Array.from({ length: n }, () => prefix + randomBytes(12).toString('base64url'))];
}

/** The attacker's guesses of the request ids a client uses after `seen` (`<random>.<base36 counter>`). */
function predictIds(seen: string, n: number): string[] {
  const dot = seen.lastIndexOf('.');
  const base = seen.slice(0, dot + 1);
  const counter = parseInt(seen.slice(dot + 1), 36);
  return Array.from({ length: n }, (_, i) => base + (counter + 1 + i).toString(36));
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

function outcomes(list: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of list) {
    const key = o.ok ? (JSON.stringify(o.value).includes('FORGED') ? 'forged' : 'ok') : o.code;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

test('a third party that saw one of a caller\'s requests can neither answer, fail nor cancel its other calls', async (t) => {
  await using nats = await startNats();
  const servers = nats.url;
  await using _echo = closing(await startWorker(echo, { servers, logger: quiet, heartbeat: false }), (w) => w.stop());
  await using _slow = closing(await startWorker(slow, { servers, logger: quiet, heartbeat: false }), (w) => w.stop());
  await using victim = closing(await connect({ servers, logger: quiet }), (c) => c.close());
  await using attacker = closing(await openConnection({ servers }), (nc) => nc.close());

  // The attacker serves a service the victim calls once: it sees that request's reply subject and id.
  let seen: { reply: string; id: string } | undefined;
  attacker.subscribe('rpc.evil.*', {
    queue: 'evil',
    callback: (_err, msg: Msg) => {
      const req = decodeRequest(msg.data);
      seen = { reply: msg.reply!, id: req.id };
      msg.respond(encodeReply({ v: 1, id: req.id, ok: true, result: 'peeked' }));
    },
  });
  await attacker.flush();
  assert.equal(await victim.call('evil.peek', null, { timeoutMs: 5_000 }), 'peeked');
  assert.ok(seen, 'the attacker saw the request');

  const CALLS = 20;
  const calls: Promise<Outcome>[] = [];
  for (let i = 0; i < CALLS; i++) {
    calls.push(victim.call('slow.sleep', { ms: 600 }, { timeoutMs: 10_000 }).then((value) => ({ ok: true, value }), (e: { code: string }) => ({ ok: false, code: e.code })));
  }
  await sleep(50); // the victim's requests are with the slow worker
  const subjects = predictSubjects(seen.reply, 40);
  const ids = predictIds(seen.id, CALLS + 10);
  const lateBefore = victim.lateReplies;
  for (const reply of subjects) {
    // Forged results: echo answers with the id the attacker chose, on the subject it chose.
    for (const id of ids) attacker.publish('rpc.echo.echo', encodeRequest({ v: 1, id, method: 'echo', budgetMs: 5_000, attempt: 1, payload: { FORGED: 'injected' } }), { reply });
    // Id-less errors: a malformed request and a discovery ping reflected off the echo worker, and one sent directly.
    attacker.publish('rpc.echo.echo', new Uint8Array([0xc1]), { reply });
    attacker.publish('$SRV.PING', new Uint8Array(0), { reply });
    attacker.publish(reply, encodeReply({ v: 1, id: '', ok: false, error: { code: 'INTERNAL', message: 'forged', retryable: false, business: false } }));
  }
  const tokens = subjects.map((s) => s.slice(s.lastIndexOf('.') + 1));
  for (const id of ids) {
    attacker.publish('rpc._cancel.slow', encode({ v: 1, id }));
    attacker.publish('rpc._cancel.slow', encode({ v: 1, id, attempt: 1 }));
    for (let i = 0; i < tokens.length; i += 16) attacker.publish('rpc._cancel.slow', encode({ v: 1, id, replies: tokens.slice(i, i + 16) }));
  }
  await attacker.flush();

  const results = await Promise.all(calls);
  const seenOutcomes = outcomes(results);
  const dropped = victim.lateReplies - lateBefore;
  t.diagnostic(JSON.stringify({ calls: CALLS, outcomes: seenOutcomes, droppedUnread: dropped, guessedSubjects: subjects.length }));
  assert.deepEqual(seenOutcomes, { ok: CALLS }, 'every call returns its genuine result: nothing forged, failed or cancelled');
  for (const r of results) assert.ok(r.ok && typeof (r.value as { sleptMs: number }).sleptMs === 'number');
  // The attack did reach the victim's inbox (the direct publishes at least), and was dropped unread.
  assert.ok(await waitFor(() => victim.lateReplies - lateBefore >= subjects.length, 5_000), `dropped unread: ${victim.lateReplies - lateBefore}`);
});

test('forged stream credit and cancels for a stream whose request id is known are ignored', async () => {
  await using nats = await startNats();
  const servers = nats.url;
  let produced = 0;
  const ticker = defineWorker({
    service: 'ticker',
    methods: {
      async *tick({ n }: { n: number }) {
        for (let i = 0; i < n; i++) {
          produced++;
          yield i;
        }
      },
    },
  });
  await using _worker = closing(await startWorker(ticker, { servers, logger: quiet, heartbeat: false }), (w) => w.stop());
  await using victim = closing(await connect({ servers, logger: quiet }), (c) => c.close());
  await using attacker = closing(await openConnection({ servers }), (nc) => nc.close());
  // The attacker reads the stream's request id and worker id from the broker (a default broker lets it
  // subscribe to requests), but not the reply token: that is on the victim's inbox only.
  let seen: { id: string } | undefined;
  attacker.subscribe('rpc.ticker.*', { callback: (_e, msg) => (seen = { id: decodeRequest(msg.data).id }) });
  await attacker.flush();
  const stream = victim.stream<number>('ticker.tick', { n: 2_000 }, { window: { items: 8 } });
  const first = await stream.next();
  assert.equal(first.value, 0);
  assert.ok(await waitFor(() => seen !== undefined, 15_000));
  const workerId = stream.workerId!;
  // Without the token, forged credit would let the worker run far past the window (and the victim
  // end the stream with INTERNAL for items beyond its credit); a forged cancel would end it.
  for (let i = 0; i < 50; i++) {
    attacker.publish(`rpc._credit.${workerId}`, encode({ v: 1, id: seen!.id, items: 8, bytes: 1 << 20 }));
    attacker.publish(`rpc._credit.${workerId}`, encode({ v: 1, id: seen!.id, reply: randomBytes(12).toString('base64url'), items: 8, bytes: 1 << 20 }));
  }
  attacker.publish('rpc._cancel.ticker', encode({ v: 1, id: seen!.id }));
  attacker.publish('rpc._cancel.ticker', encode({ v: 1, id: seen!.id, replies: [randomBytes(12).toString('base64url')] }));
  await attacker.flush();
  await sleep(200);
  assert.ok(produced <= 8 + 1, `the worker stays within the window the victim granted: produced ${produced}`);
  let n = 1;
  for await (const item of stream) assert.equal(item, n++);
  assert.equal(n, 2_000, 'the stream completes with every item');
});
