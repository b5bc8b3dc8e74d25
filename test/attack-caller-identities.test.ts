/**
 * Two caller applications on the shipped least-privilege configuration (config/nats/cluster.conf +
 * accounts.conf), each with its own identity and inbox prefix: `caller` (`_INBOX_caller`) and
 * `caller_b` (`_INBOX_caller_b`). Caller A attacks caller B:
 *   - reading B's results: subscribing to B's inbox is refused by the broker, and receives nothing
 *     while B's calls are answered;
 *   - answering B's calls: publishing to B's inbox is refused by the broker;
 *   - reflecting: requests to `echo` and `$SRV.PING` with reply-to set under B's inbox (which A
 *     learned from a compromised echo worker that took one of B's requests) are let through by the
 *     broker and answered by the echo worker, but B drops them unread: the reply tokens of its
 *     other calls cannot be guessed from the one seen.
 * B's calls all return their genuine results. With the previous configuration (one shared `caller`
 * identity for every application) A read B's results, and with counter reply subjects its
 * reflected requests answered B's calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, startWorker } from '../src/index.js';
import { openConnection } from '../src/connection/options.js';
import { createLogger } from '../src/logging/logger.js';
import { decodeRequest, encodeReply, encodeRequest } from '../src/protocol/codec.js';
import echo from '../workers/echo.js';
import slow from '../workers/slow.js';
import { permissionViolations } from './helpers/attack.js';
import { identity, startSingleNode } from './helpers/cluster.js';
import { closing } from './helpers/nats.js';
import { sleep, waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');


test('caller A can neither read nor answer caller B\'s calls on the shipped configuration', async (t) => {
  await using nats = await startSingleNode();
  const servers = nats.url;
  await using b = closing(await connect({ servers, ...identity('caller_b'), logger: quiet }), (c) => c.close());
  // A compromised echo worker (the echo credential) takes one of B's calls and leaks its reply subject.
  let leaked: string | undefined;
  {
    await using spy = closing(await openConnection({ servers, ...identity('echo') }), (nc) => nc.close());
    spy.subscribe('rpc.echo.*', { queue: 'echo', callback: (_e, msg) => {
      leaked = msg.reply;
      msg.respond(encodeReply({ v: 1, id: decodeRequest(msg.data).id, ok: true, result: 'spied' }));
    } });
    await spy.flush();
    assert.equal(await b.call('echo.echo', 'hi', { timeoutMs: 5_000 }), 'spied');
  }
  assert.ok(leaked !== undefined && leaked.startsWith('_INBOX_caller_b.'), `B's reply subject: ${leaked}`);
  const bInbox = leaked.slice(0, leaked.lastIndexOf('.'));
  await using _echo = closing(await startWorker(echo, { servers, ...identity('echo'), logger: quiet, heartbeat: false }), (w) => w.stop());
  await using _slow = closing(await startWorker(slow, { servers, ...identity('slow'), logger: quiet, heartbeat: false }), (w) => w.stop());
  await using a = closing(await openConnection({ servers, ...identity('caller') }), (nc) => nc.close());
  const refused = permissionViolations(a);

  // A tries to read B's replies.
  let read = 0;
  a.subscribe('_INBOX_caller_b.>', { callback: (err) => void (err === null && read++) });
  a.subscribe('_INBOX.>', { callback: (err) => void (err === null && read++) });
  await a.flush();
  assert.ok(await waitFor(() => refused.some((v) => v.operation === 'subscription' && v.subject === '_INBOX_caller_b.>'), 15_000), 'subscribing to B\'s inbox is refused');

  const CALLS = 10;
  const calls = Array.from({ length: CALLS }, (_, i) =>
    b.call('slow.sleep', { ms: 500 }, { timeoutMs: 10_000 }).then(
      (v) => ({ ok: true, v, i }),
      (e: { code: string }) => ({ ok: false, v: e.code, i }),
    ),
  );
  await sleep(50);
  const lateBefore = b.lateReplies;
  // A cannot publish into B's inbox...
  a.publish(`${bInbox}.forged.1`, new Uint8Array([1]));
  // ...but may publish requests with any reply-to: reflected off the echo worker and $SRV onto B's
  // inbox, with the leaked token and guesses of the others.
  // (A counter, as reply subjects used to end in, would be predicted: the next 50.)
  const last = leaked.slice(bInbox.length + 1);
  const next = (i: number) => (/^\d+$/.test(last) ? String(Number(last) + 1 + i) : randomBytes(12).toString('base64url'));
  const guesses = [leaked, ...Array.from({ length: 50 }, (_, i) => `${bInbox}.${next(i)}`)];
  for (const reply of guesses) {
    a.publish('rpc.echo.echo', encodeRequest({ v: 1, id: 'forged', method: 'echo', budgetMs: 5_000, attempt: 1, payload: { FORGED: true } }), { reply });
    a.publish('rpc.echo.echo', new Uint8Array([0xc1]), { reply });
    a.publish('$SRV.PING', new Uint8Array(0), { reply });
  }
  await a.flush();
  const results = await Promise.all(calls);
  t.diagnostic(JSON.stringify({ calls: CALLS, ok: results.filter((r) => r.ok).length, readByA: read, violations: refused.length, reflectedDroppedByB: b.lateReplies - lateBefore }));
  for (const r of results) assert.ok(r.ok && typeof (r.v as { sleptMs?: unknown }).sleptMs === 'number', `call ${r.i}: ${JSON.stringify(r.v)}`);
  assert.ok(await waitFor(() => refused.some((v) => v.operation === 'publish' && v.subject === `${bInbox}.forged.1`), 15_000), 'publishing into B\'s inbox is refused');
  await a.flush();
  assert.equal(read, 0, 'A read nothing of B\'s');
  // The reflected answers reached B's inbox (the broker let the echo worker answer) and were dropped unread.
  assert.ok(await waitFor(() => b.lateReplies - lateBefore >= guesses.length, 5_000), `dropped unread: ${b.lateReplies - lateBefore}`);
});
