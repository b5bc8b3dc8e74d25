/**
 * Header bombs: a message with a NATS header block of about 1 MB in 30,000 lines. The `nats`
 * package parses such a block in time quadratic in its lines (seconds of CPU); natsrpc bounds the
 * block before anything parses it (protocol/nats-headers.ts). A caller drops such a reply unread
 * and still takes the genuine one; a worker refuses such a request with BAD_REQUEST and keeps
 * serving; the supervisor drops such a control ack and takes the valid one that follows. Each test
 * reports the longest event-loop stall of the receiving process (the goal is under 5 ms; timing is
 * reported, not asserted, on a shared machine).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Msg } from 'nats';
import { connect, startWorker } from '../src/index.js';
import { openConnection } from '../src/connection/options.js';
import { createLogger } from '../src/logging/logger.js';
import { decodeChecked, decodeReply, decodeRequest, encode, encodeReply, encodeRequest } from '../src/protocol/codec.js';
import { MAX_HEADER_BYTES, MAX_HEADER_LINES } from '../src/protocol/nats-headers.js';
import { CommandSender } from '../src/supervisor/commands.js';
import { startSupervisor } from '../src/supervisor/start-supervisor.js';
import echo from '../workers/echo.js';
import { closing, startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';
import { headerBomb, RawNats } from './helpers/raw-nats.js';

const quiet = createLogger('test', 'silent');
const BOMB = headerBomb(1_000_000, 30_000);

/** Runs `fn` and returns the longest event-loop stall seen meanwhile, in ms. */
async function stallDuring(fn: () => Promise<void>): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  try {
    await fn();
    // A stall is recorded when the histogram's timer runs after it: give it a few turns.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    h.disable();
  }
  return h.max / 1e6;
}

test('a caller drops a reply carrying a 1 MB header block unread and takes the genuine reply after it', async (t) => {
  assert.ok(BOMB.length > 900_000 && BOMB.toString('latin1').split('\r\n').length > 29_000, 'the bomb is ~1 MB in ~30,000 lines');
  await using nats = await startNats();
  await using victim = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());
  await using attacker = closing(await openConnection({ servers: nats.url }), (nc) => nc.close());
  await using raw = await RawNats.open(nats.url);
  // The attacker serves a service the victim calls, so it holds a live reply subject.
  let held: { reply: string; id: string } | undefined;
  attacker.subscribe('rpc.evil.*', { callback: (_e, msg: Msg) => (held = { reply: msg.reply!, id: decodeRequest(msg.data).id }) });
  await attacker.flush();
  const call = victim.call('evil.hold', null, { timeoutMs: 30_000 });
  assert.ok(await waitFor(() => held !== undefined, 5_000));
  let result: unknown;
  const stallMs = await stallDuring(async () => {
    raw.publish(held!.reply, BOMB, new Uint8Array(0));
    await raw.ping();
    assert.ok(await waitFor(() => victim.oversizedHeaders === 1, 5_000), 'the bomb reached the victim and was dropped');
    attacker.publish(held!.reply, encodeReply({ v: 1, id: held!.id, ok: true, result: 'genuine' }));
    result = await call;
  });
  t.diagnostic(JSON.stringify({ headerBytes: BOMB.length, maxEventLoopStallMs: Number(stallMs.toFixed(2)) }));
  assert.equal(result, 'genuine');
});

test('a worker refuses a request carrying a 1 MB header block with BAD_REQUEST and keeps serving', async (t) => {
  await using nats = await startNats();
  await using _worker = closing(await startWorker(echo, { servers: nats.url, logger: quiet, heartbeat: false }), (w) => w.stop());
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());
  await using attacker = closing(await openConnection({ servers: nats.url }), (nc) => nc.close());
  await using raw = await RawNats.open(nats.url);
  const answers: Uint8Array[] = [];
  attacker.subscribe('_INBOX.bomb.*', { callback: (_e, msg) => answers.push(msg.data) });
  await attacker.flush();
  const request = encodeRequest({ v: 1, id: 'bomb-1', method: 'echo', budgetMs: 5_000, attempt: 1, payload: 'hello' });
  // Over either limit is refused the same way as a megabyte: 8 KiB in 40 lines, 2 KiB in 100 lines.
  const overBytes = headerBomb(MAX_HEADER_BYTES * 2, 40);
  const overLines = headerBomb(2_048, 100);
  assert.ok(overBytes.length > MAX_HEADER_BYTES && overLines.length < MAX_HEADER_BYTES && overLines.toString('latin1').split('\n').length > MAX_HEADER_LINES + 1);
  const stallMs = await stallDuring(async () => {
    raw.publish('rpc.echo.echo', BOMB, request, '_INBOX.bomb.1');
    raw.publish('rpc.echo.echo', overBytes, request, '_INBOX.bomb.2');
    raw.publish('rpc.echo.echo', overLines, request, '_INBOX.bomb.3');
    await raw.ping();
    assert.ok(await waitFor(() => answers.length === 3, 10_000), 'all refused at once');
  });
  for (const data of answers) {
    const reply = decodeReply(data);
    assert.ok(!reply.ok && reply.id === '' && reply.error.code === 'BAD_REQUEST', JSON.stringify(reply));
    assert.match(reply.error.message, /NATS header block of \d+ (bytes|lines) exceeds/);
  }
  t.diagnostic(JSON.stringify({ headerBytes: BOMB.length, maxEventLoopStallMs: Number(stallMs.toFixed(2)) }));
  assert.equal(await client.call('echo.echo', 'still serving', { timeoutMs: 5_000 }), 'still serving');
});

test('the supervisor drops a control ack carrying a 1 MB header block and takes the valid ack after it', async (t) => {
  await using nats = await startNats();
  await using supervisorNc = closing(await openConnection({ servers: nats.url }), (nc) => nc.close());
  await using fakeWorker = closing(await openConnection({ servers: nats.url }), (nc) => nc.close());
  await using raw = await RawNats.open(nats.url);
  // A worker that answers its control command twice: a bomb, then the real ack.
  fakeWorker.subscribe('rpc._ctl.math.math-000000000001', {
    callback: (_e, msg) => {
      const command = decodeChecked(msg.data) as { id: string };
      raw.publish(msg.reply!, BOMB, new Uint8Array(0));
      void raw.ping().then(() => msg.respond(encode({ v: 1, id: command.id, ok: true, state: 'draining' })));
    },
  });
  await fakeWorker.flush();
  const sender = new CommandSender(supervisorNc, 'rpc', 'sup-test', 10_000);
  let ack: unknown;
  const stallMs = await stallDuring(async () => {
    ack = await sender.send('math', 'math-000000000001', 'drain', 'test');
  });
  t.diagnostic(JSON.stringify({ headerBytes: BOMB.length, maxEventLoopStallMs: Number(stallMs.toFixed(2)) }));
  assert.equal((ack as { ok: boolean }).ok, true);
  assert.equal((ack as { state: string }).state, 'draining');
});

test('the supervisor drops a heartbeat carrying a 1 MB header block: the worker it names is not registered', async (t) => {
  await using nats = await startNats();
  await using sup = closing(await startSupervisor({ servers: nats.url, logger: quiet, intervalMs: 100 }), (s) => s.close());
  await using raw = await RawNats.open(nats.url);
  const beat = (id: string) => {
    const now = Date.now();
    return encode({
      v: 1, id, service: 'bomb', version: '1', host: 'h', pid: 1, serverId: 's', clientId: 1, state: 'serving', seq: 1, ts: now, startedAt: now - 500,
      intervalMs: 500, inFlight: 0, concurrency: 4, received: 0, ok: 0, failed: {}, expired: 0, overruns: 0, consecutiveFaults: 0, p50Ms: 1, p99Ms: 2,
      loopDelayP99Ms: 1, stalledMs: 0, rssBytes: 1_000_000, overdue: 0, healthy: null,
    });
  };
  const stallMs = await stallDuring(async () => {
    raw.publish('rpc._hb.bomb.bomb-1', BOMB, beat('bomb-1'));
    // The same heartbeat with an ordinary header block: registered.
    raw.publish('rpc._hb.bomb.bomb-2', new TextEncoder().encode('NATS/1.0\r\nX: y\r\n\r\n'), beat('bomb-2'));
    await raw.ping();
    assert.ok(await waitFor(() => sup.registry.get('bomb-2') !== undefined, 5_000), 'the ordinary heartbeat is heard');
  });
  t.diagnostic(JSON.stringify({ headerBytes: BOMB.length, maxEventLoopStallMs: Number(stallMs.toFixed(2)) }));
  assert.equal(sup.registry.get('bomb-1'), undefined, 'the heartbeat with the bomb was dropped');
});
