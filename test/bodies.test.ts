/**
 * Request and reply bodies beyond the broker's max_payload (issue 11, test 6), against a real
 * nats-server started with a 1 MB max_payload and a real worker process: 50 MB each way with equal
 * bytes and bounded memory on both sides, 70 MB refused before anything is sent, a lost worker
 * ending a chunked call typed, and hostile chunk messages answered typed while the worker keeps
 * serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { createHash } from 'node:crypto';
import { connect as natsConnect, createInbox, headers, type Msg } from 'nats';
import { connect } from '../src/index.js';
import { decodeChecked, encode } from '../src/protocol/codec.js';
import { pattern } from './fixtures/bodies.js';
import { closing, startNats } from './helpers/nats.js';
import { spawnWorker, workerIdOf } from './helpers/processes.js';
import { waitFor } from './helpers/load.js';
import { close, MB, quiet, rejection } from './helpers/streams.js';

const ONE_MB_BROKER = { configText: 'max_payload: 1048576\n' };
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
type Memory = { rss: number; maxRss: number };
type Hashed = Memory & { sha256: string; bytes: number };
/** The test process's peak resident set so far, in bytes. */
const maxRss = () => process.resourceUsage().maxRSS * 1024;

test('50 MB request and 50 MB reply through a 1 MB max_payload: equal bytes, RSS growth under 3x the body on both sides (test 6)', async (t) => {
  await using nats = await startNats(ONE_MB_BROKER);
  await using _worker = await spawnWorker('test/fixtures/bodies.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const body = 50 * MB;
  const data = pattern(body, 7);
  const expected = sha256(data);

  const workerBefore = (await client.call<Memory>('bodies.memory')).rss;
  const callerBefore = process.memoryUsage().rss;
  let started = performance.now();
  const hashed = await client.call<Hashed>('bodies.hash', data, { timeoutMs: 120_000 });
  const requestMs = performance.now() - started;
  const callerRequestPeak = maxRss();
  assert.equal(hashed.bytes, body);
  assert.equal(hashed.sha256, expected);

  const workerBeforeReply = (await client.call<Memory>('bodies.memory')).rss;
  const callerBeforeReply = process.memoryUsage().rss;
  started = performance.now();
  const made = await client.call<Uint8Array>('bodies.make', { bytes: body, seed: 11 }, { timeoutMs: 120_000 });
  const replyMs = performance.now() - started;
  const callerReplyPeak = maxRss();
  const workerAfter = await client.call<Memory>('bodies.memory');
  assert.ok(made instanceof Uint8Array);
  assert.equal(made.length, body);
  assert.equal(sha256(made), sha256(pattern(body, 11)));

  const growth = {
    workerRequest: hashed.maxRss - workerBefore,
    callerRequest: callerRequestPeak - callerBefore,
    workerReply: workerAfter.maxRss - workerBeforeReply,
    callerReply: callerReplyPeak - callerBeforeReply,
  };
  const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;
  t.diagnostic(`request 50 MB in ${requestMs.toFixed(0)} ms, reply 50 MB in ${replyMs.toFixed(0)} ms`);
  t.diagnostic(`RSS peak growth: worker ${mb(growth.workerRequest)} (request), ${mb(growth.workerReply)} (reply); caller ${mb(growth.callerRequest)} (request), ${mb(growth.callerReply)} (reply)`);
  for (const [where, bytes] of Object.entries(growth)) assert.ok(bytes < 3 * body, `${where} RSS grew ${mb(bytes)}, over 3x the body`);
});

test('70 MB is refused with PAYLOAD_TOO_LARGE before anything is sent; a 70 MB result is refused typed too (test 6)', async () => {
  await using nats = await startNats(ONE_MB_BROKER);
  await using _worker = await spawnWorker('test/fixtures/bodies.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  await using spy = closing(await natsConnect({ servers: nats.url }), (c) => c.close());
  let seen = 0;
  spy.subscribe('rpc.bodies.hash', { callback: () => seen++ });
  spy.subscribe('rpc._body.>', { callback: () => seen++ });
  await spy.flush();
  const refused = await rejection(() => client.call('bodies.hash', new Uint8Array(70 * MB)));
  assert.equal(refused.code, 'PAYLOAD_TOO_LARGE');
  assert.equal(refused.maybeProcessed, false);
  await client.call('bodies.memory'); // a round trip after the refusal: anything sent would have arrived
  await spy.flush();
  assert.equal(seen, 0, 'nothing of the refused call reached the broker');

  const tooLong = await rejection(() => client.call('bodies.make', { bytes: 70 * MB, seed: 1 }, { timeoutMs: 60_000 }));
  assert.equal(tooLong.code, 'PAYLOAD_TOO_LARGE');
});

test('a worker killed while it receives a chunked request ends the call with WORKER_LOST, not a hang', async () => {
  await using nats = await startNats(ONE_MB_BROKER);
  await using worker = await spawnWorker('test/fixtures/bodies.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  await using spy = closing(await natsConnect({ servers: nats.url }), (c) => c.close());
  let chunks = 0;
  spy.subscribe(`rpc._body.bodies.${workerIdOf(worker)}`, { callback: () => chunks++ });
  await spy.flush();
  const call = rejection(() => client.call('bodies.hold', pattern(20 * MB, 1), { timeoutMs: 60_000 }));
  assert.ok(await waitFor(() => chunks > 0, 30_000), 'the worker pulled the body');
  const killedAt = performance.now();
  worker.signal('SIGKILL');
  const err = await call;
  assert.equal(err.code, 'WORKER_LOST');
  assert.ok(performance.now() - killedAt < 30_000);
});

test('a chunked call ends typed at its deadline and when aborted, and its worker frees the slot', async () => {
  await using nats = await startNats(ONE_MB_BROKER);
  await using _worker = await spawnWorker('test/fixtures/bodies.ts', nats.url, ['--concurrency', '1']);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const data = pattern(5 * MB, 2);
  const expired = await rejection(() => client.call('bodies.hold', data, { timeoutMs: 1_500 }));
  assert.equal(expired.code, 'TIMEOUT');
  const ac = new AbortController();
  const aborted = rejection(() => client.call('bodies.hold', data, { timeoutMs: 60_000, signal: ac.signal }));
  setTimeout(() => ac.abort(), 300);
  assert.equal((await aborted).code, 'CANCELLED');
  // One slot: it is free again once the worker heard the cancel (a retried OVERLOADED waits for it).
  const hashed = await client.call<Hashed>('bodies.hash', data, { timeoutMs: 30_000, retry: { maxAttempts: 20 } });
  assert.equal(hashed.sha256, sha256(data));
});

test('an idempotent chunked call whose worker is frozen, then killed, mid-body is sent again to another worker and succeeds', async () => {
  await using nats = await startNats(ONE_MB_BROKER);
  await using first = await spawnWorker('test/fixtures/bodies.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  await using spy = closing(await natsConnect({ servers: nats.url }), (c) => c.close());
  let chunks = 0;
  spy.subscribe(`rpc._body.bodies.${workerIdOf(first)}`, { callback: () => chunks++ });
  await spy.flush();
  // The first worker alone takes the request; the second starts once it is receiving the body.
  const data = pattern(50 * MB, 3);
  const call = client.call<Hashed>('bodies.hash', data, { timeoutMs: 60_000, idempotent: true });
  assert.ok(await waitFor(() => chunks > 0, 30_000), 'the first worker pulled the body');
  first.signal('SIGSTOP'); // frozen mid-body: it can neither finish nor answer
  await using _second = await spawnWorker('test/fixtures/bodies.ts', nats.url);
  first.signal('SIGKILL');
  const hashed = await call;
  assert.equal(hashed.sha256, sha256(data));
});

/** NATS headers holding one `Natsrpc-Chunk` line: a chunk's metadata (docs/protocol.md, *Large bodies*). */
function chunkHeaders(...values: string[]) {
  const h = headers();
  for (const value of values) h.append('Natsrpc-Chunk', value);
  return h;
}

/** A raw caller for hostile messages: its own inbox, every message on it decoded. */
async function rawCaller(url: string) {
  const nc = await natsConnect({ servers: url });
  const inbox = createInbox();
  const got: Record<string, unknown>[] = [];
  nc.subscribe(inbox, { callback: (_err, msg: Msg) => got.push(decodeChecked(msg.data) as Record<string, unknown>) });
  await nc.flush();
  const request = (id: string, bytes: number, budgetMs = 30_000) =>
    nc.publish('rpc.bodies.hash', encode({ v: 1, id, method: 'hash', budgetMs, attempt: 1, body: { bytes } }), { reply: inbox });
  const token = inbox.slice(inbox.lastIndexOf('.') + 1);
  // Chunks to a worker name the random last token of the call's reply subject.
  const chunk = (w: string, t: number, o: number, d: Uint8Array, reply = token, crc?: number) =>
    nc.publish(`rpc._body.bodies.${w}`, d, { headers: chunkHeaders(`v=1 t=${t} o=${o}${crc === undefined ? '' : ` crc32=${crc}`} reply=${reply}`) });
  /** Every chunk of `body` in order, half a MB each; the last carries `crc` as `crc32`. */
  const all = (w: string, t: number, body: Uint8Array, crc: number) => {
    for (let o = 0; o < body.length; o += MB / 2) chunk(w, t, o, body.subarray(o, o + MB / 2), token, o + MB / 2 >= body.length ? crc : undefined);
  };
  return { nc, got, request, chunk, all, token };
}

test('hostile chunk messages: typed errors, nothing reaches the handler, buffers freed, the worker keeps serving (test 6)', async () => {
  await using nats = await startNats(ONE_MB_BROKER);
  // One slot: a body whose buffer or slot were never freed would make the next call OVERLOADED.
  await using worker = await spawnWorker('test/fixtures/bodies.ts', nats.url, ['--concurrency', '1']);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const w = workerIdOf(worker);
  const raw = await rawCaller(nats.url);
  await using _raw = closing(raw.nc, (c) => c.close());
  // A body is the msgpack encoding of the payload: here a binary of 3 MB.
  const value = pattern(3 * MB, 5);
  const body = encode(value);
  const digest = crc32(body);
  const reply = async (id: string) => {
    assert.ok(await waitFor(() => raw.got.some((m) => m.id === id), 30_000), `a reply for ${id}`);
    return raw.got.find((m) => m.id === id) as { ok: boolean; error: { code: string; details?: { reason?: string } } };
  };
  const pullOf = async () => {
    assert.ok(await waitFor(() => raw.got.some((m) => typeof m.t === 'number'), 30_000), 'a pull');
    const pull = raw.got.find((m) => typeof m.t === 'number') as { t: number; o: number; n: number; w: string };
    raw.got.length = 0;
    return pull;
  };

  // A declared length beyond the worker's maximum: refused before anything is allocated.
  raw.request('huge', 1024 * 1024 * 1024);
  assert.equal((await reply('huge')).error.code, 'PAYLOAD_TOO_LARGE');
  // Beyond what the protocol allows at all: an invalid request.
  raw.request('absurd', 2 ** 40);
  assert.ok(await waitFor(() => raw.got.some((m) => m.id === '' || m.id === 'absurd'), 30_000));
  assert.equal((raw.got.find((m) => m.id === '' || m.id === 'absurd') as { error: { code: string } }).error.code, 'BAD_REQUEST');
  raw.got.length = 0;

  // Out of order: the second half MB first.
  raw.request('reorder', body.length);
  let pull = await pullOf();
  assert.equal(pull.w, w);
  raw.chunk(w, pull.t, MB / 2, body.subarray(MB / 2, MB));
  let r = await reply('reorder');
  assert.equal(r.error.code, 'BAD_REQUEST');
  assert.equal(r.error.details?.reason, 'chunk');

  // A duplicate chunk.
  raw.got.length = 0;
  raw.request('duplicate', body.length);
  pull = await pullOf();
  raw.chunk(w, pull.t, 0, body.subarray(0, MB / 2));
  raw.chunk(w, pull.t, 0, body.subarray(0, MB / 2));
  r = await reply('duplicate');
  assert.equal(r.error.code, 'BAD_REQUEST');

  // Every chunk in order, one byte changed: the checksum (carried by the last chunk) fails before anything decodes it.
  raw.got.length = 0;
  raw.request('forged', body.length);
  pull = await pullOf();
  const forged = body.slice();
  forged[12_345] = forged[12_345]! ^ 0xff;
  raw.all(w, pull.t, forged, digest);
  r = await reply('forged');
  assert.equal(r.error.code, 'BAD_REQUEST');
  assert.equal(r.error.details?.reason, 'checksum');

  // Every chunk right, but the last carries no checksum: refused the same way.
  raw.got.length = 0;
  raw.request('unsummed', body.length);
  pull = await pullOf();
  for (let o = 0; o < body.length; o += MB / 2) raw.chunk(w, pull.t, o, body.subarray(o, o + MB / 2));
  r = await reply('unsummed');
  assert.equal(r.error.code, 'BAD_REQUEST');
  assert.equal(r.error.details?.reason, 'checksum');

  // Chunks that do not name the call's reply token are ignored: the real ones still complete it.
  raw.got.length = 0;
  raw.request('impostor', body.length);
  pull = await pullOf();
  raw.chunk(w, pull.t, 0, forged.subarray(0, MB / 2), 'AAAAAAAAAAAAAAAA');
  raw.all(w, pull.t, body, digest);
  const impostor = (await reply('impostor')) as unknown as { ok: boolean; result: Hashed };
  assert.equal(impostor.ok, true, JSON.stringify(impostor));
  assert.equal(impostor.result.sha256, sha256(value));

  // Chunks for no transfer, and garbage on the body subject: ignored.
  raw.chunk(w, 123_456, 0, body.subarray(0, 1_000));
  raw.nc.publish(`rpc._body.bodies.${w}`, new Uint8Array([0xc1, 0xff, 0x00]));
  raw.nc.publish(`rpc._body.bodies.${w}`, encode({ v: 1, t: 1, o: 0, n: 2 ** 40 }));

  // Malformed chunk headers for the open transfer are ignored (not taken as a chunk at offset 0):
  // a leading zero, a field out of order, a header line twice, a chunk with no bytes, metadata in
  // msgpack instead of a header. The real chunks then still complete the call.
  raw.got.length = 0;
  raw.request('malformed', body.length);
  pull = await pullOf();
  const first = body.subarray(0, MB / 2);
  const bodySubject = `rpc._body.bodies.${w}`;
  for (const h of [
    chunkHeaders(`v=1 t=0${pull.t} o=0 reply=${raw.token}`),
    chunkHeaders(`v=1 o=0 t=${pull.t} reply=${raw.token}`),
    chunkHeaders(`v=2 t=${pull.t} o=0 reply=${raw.token}`),
    chunkHeaders(`v=1 t=${pull.t} o=0 reply=${raw.token}`, `v=1 t=${pull.t} o=0 reply=${raw.token}`),
    chunkHeaders(`v=1 t=${pull.t} o=0 crc32=4294967296 reply=${raw.token}`),
  ]) raw.nc.publish(bodySubject, first, { headers: h });
  raw.nc.publish(bodySubject, new Uint8Array(0), { headers: chunkHeaders(`v=1 t=${pull.t} o=0 reply=${raw.token}`) });
  raw.nc.publish(bodySubject, encode({ v: 1, t: pull.t, o: 0, d: first, reply: raw.token }));
  raw.all(w, pull.t, body, digest);
  const malformed = (await reply('malformed')) as unknown as { ok: boolean; result: Hashed };
  assert.equal(malformed.ok, true, JSON.stringify(malformed));
  assert.equal(malformed.result.sha256, sha256(value));

  // A sender that stops mid-body: the call's deadline ends it and frees the buffer and the slot.
  raw.got.length = 0;
  raw.request('stalled', body.length, 1_500);
  pull = await pullOf();
  raw.chunk(w, pull.t, 0, body.subarray(0, MB / 2));
  r = await reply('stalled');
  assert.equal(r.error.code, 'TIMEOUT');

  // The one slot is free and the worker serves a chunked call as before.
  const hashed = await client.call<Hashed>('bodies.hash', value, { timeoutMs: 30_000 });
  assert.equal(hashed.sha256, sha256(value));
});

test('a hostile worker\'s reply bodies end the call typed: too large, out of order, a wrong checksum', async () => {
  await using nats = await startNats(ONE_MB_BROKER);
  await using client = closing(await connect({ servers: nats.url, logger: quiet, maxBodyBytes: 4 * MB }), close);
  // A fake worker of service "fake": it answers every call with a reply body and serves its pulls as `mode` says.
  await using fake = closing(await natsConnect({ servers: nats.url }), (c) => c.close());
  const value = encode(pattern(3 * MB, 9));
  const digest = crc32(value);
  const pulls: { t: number; o: number; n: number }[] = [];
  let mode = 'huge';
  let replyTo = '';
  fake.subscribe('rpc.fake.*', {
    queue: 'fake',
    callback: (_err, msg) => {
      const req = decodeChecked(msg.data) as { id: string };
      replyTo = msg.reply!;
      const bytes = mode === 'huge' ? 100 * MB : value.length;
      msg.respond(encode({ v: 1, id: req.id, ok: true, body: { bytes, t: 7, w: 'fake-1' } }));
    },
  });
  fake.subscribe('rpc._body.fake.fake-1', {
    callback: (_err, msg) => {
      const pull = decodeChecked(msg.data) as { t: number; o: number; n: number };
      pulls.push(pull);
      if (pull.n === 0) return;
      const send = (o: number, end: number, crc?: number) =>
        fake.publish(replyTo, value.subarray(o, end), { headers: chunkHeaders(`v=1 t=7 o=${o}${crc === undefined ? '' : ` crc32=${crc}`}`) });
      if (mode === 'reorder') send(MB / 2, MB);
      else for (let o = 0; o < value.length; o += MB / 2) send(o, Math.min(value.length, o + MB / 2), o + MB / 2 >= value.length ? (digest ^ 1) >>> 0 : undefined);
    },
  });
  await fake.flush();

  const huge = await rejection(() => client.call('fake.get', null, { timeoutMs: 10_000 }));
  assert.equal(huge.code, 'PAYLOAD_TOO_LARGE');
  assert.ok(await waitFor(() => pulls.some((p) => p.n === 0), 10_000), 'the caller abandons the body it will not take');
  mode = 'reorder';
  const reordered = await rejection(() => client.call('fake.get', null, { timeoutMs: 10_000 }));
  assert.equal(reordered.code, 'INTERNAL');
  assert.match(reordered.message, /broke the protocol/);
  mode = 'badsum';
  const badsum = await rejection(() => client.call('fake.get', null, { timeoutMs: 10_000 }));
  assert.equal(badsum.code, 'INTERNAL');
  assert.match(badsum.message, /CRC-32/);
});
