/**
 * Hostile input: over a thousand malformed request bodies published straight to a worker
 * process's subject, several times over. Each must be answered BAD_REQUEST, the worker must keep
 * serving, its Object.prototype must stay clean, and its memory must not grow with the bodies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as natsConnect, createInbox } from 'nats';
import { encode } from '@msgpack/msgpack';
import { connect } from '../src/index.js';
import { decodeReply } from '../src/protocol/codec.js';
import { createLogger } from '../src/logging/logger.js';
import { closing, startNats } from './helpers/nats.js';
import { spawnWorker } from './helpers/processes.js';
import { waitFor } from './helpers/load.js';

const good = { v: 1, id: 'h1', method: 'whoami', budgetMs: 5_000, attempt: 1, payload: null };

function nested(depth: number): Uint8Array {
  const b = new Uint8Array(depth + 1).fill(0x91);
  b[depth] = 0xc0;
  return b;
}

/** A request whose payload is the raw msgpack `bytes` (spliced in place of a nil). */
function withPayloadBytes(bytes: number[]): Uint8Array {
  const text = Buffer.from(encode({ ...good, payload: null }));
  const at = text.indexOf('payload', 0, 'latin1') + 'payload'.length;
  return new Uint8Array(Buffer.concat([text.subarray(0, at), Buffer.from(bytes), text.subarray(at + 1)]));
}

function withProtoKey(where: 'top' | 'payload' | 'headers'): Uint8Array {
  // The encoder will not write a __proto__ key from an object literal, so splice the bytes by hand.
  const marker = 'zzzzzzzzz'; // same length as __proto__
  const value = where === 'top' ? { ...good, [marker]: { polluted: true } }
    : where === 'payload' ? { ...good, payload: { [marker]: { polluted: true } } }
    : { ...good, headers: { [marker]: 'x' } };
  const bytes = encode(value);
  const text = Buffer.from(bytes);
  const at = text.indexOf(marker);
  text.write('__proto__', at, 'latin1');
  return new Uint8Array(text);
}

function malformedBodies(): Uint8Array[] {
  const bodies: Uint8Array[] = [];
  const valid = encode(good);
  for (let i = 0; i < 300; i++) bodies.push(randomBytes(1 + (i % 512)));
  for (let i = 0; i < 200; i++) bodies.push(valid.subarray(0, i % valid.length));
  for (let i = 0; i < 50; i++) bodies.push(encode({ ...good, v: i === 1 ? 2 : i + 2 }));
  const wrongTypes = [
    { ...good, id: 7 }, { ...good, id: '' }, { ...good, budgetMs: 'soon' }, { ...good, budgetMs: -5 },
    { ...good, attempt: 0 }, { ...good, attempt: 1.5 }, { ...good, headers: [1, 2] }, { ...good, headers: { a: 1 } },
    { ...good, method: 'other' }, { ...good, sentAt: 'yesterday' }, 'a string', 42, null, [good], { v: 1 },
  ];
  for (let i = 0; i < 100; i++) bodies.push(encode(wrongTypes[i % wrongTypes.length]));
  const huge = [
    [0xdd, 0xff, 0xff, 0xff, 0xff], [0xdf, 0xff, 0xff, 0xff, 0xff], [0xdb, 0xff, 0xff, 0xff, 0xff, 0x61],
    [0xc6, 0xff, 0xff, 0xff, 0xff, 0x00], [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00], [0xdc, 0xff, 0xff],
    [0x81, 0xa1, 0x70, 0xdd, 0x7f, 0xff, 0xff, 0xff, 0xc0, 0xc0],
  ];
  for (let i = 0; i < 100; i++) bodies.push(new Uint8Array(huge[i % huge.length]!));
  for (let i = 0; i < 99; i++) bodies.push(withProtoKey((['top', 'payload', 'headers'] as const)[i % 3]!));
  for (let i = 0; i < 100; i++) bodies.push(nested([40, 1_000, 100_000, 900_000][i % 4]!));
  for (let i = 0; i < 20; i++) bodies.push(encode({ ...good, payload: new Array(150_000 + i).fill(0) }));
  // Integers beyond int64 (uint64 above 2^63 - 1) and timestamps a Date cannot hold.
  for (let i = 0; i < 30; i++) bodies.push(encode({ ...good, payload: 2n ** 63n + BigInt(i) }, { useBigInt64: true }));
  for (let i = 0; i < 10; i++) bodies.push(withPayloadBytes([0xc7, 12, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, i]));
  for (let i = 0; i < 10; i++) bodies.push(withPayloadBytes([0xd7, 0xff, 0xff, 0xff, 0xff, 0xfc, 0, 0, 0, i]));
  for (let i = 0; i < 30; i++) bodies.push(new Uint8Array(0));
  for (let i = 0; i < 30; i++) bodies.push(Buffer.from(JSON.stringify(good)));
  return bodies;
}

/** Rounds of the whole set after the warm-up one; a worker that kept what it was sent would grow by each. */
const MEASURED_ROUNDS = 4;

test('1,000+ malformed request bodies each get BAD_REQUEST; the worker keeps serving with bounded memory (item 7)', async (t) => {
  await using nats = await startNats();
  await using worker = await spawnWorker('test/fixtures/probe.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: createLogger('test', 'silent') }), (c) => c.close());
  await using raw = closing(await natsConnect({ servers: nats.url }), (c) => c.close());
  // Sampled inside the worker process, after a full collection there.
  const memory = () => client.call<{ rss: number; heapUsed: number; arrayBuffers: number }>('probe.memory');
  await memory();
  const bodies = malformedBodies();
  assert.ok(bodies.length >= 1_000, `${bodies.length} bodies`);
  const bytesPerRound = bodies.reduce((sum, b) => sum + b.length, 0);
  const maxPayload = raw.info!.max_payload;
  assert.ok(bodies.every((b) => b.length <= maxPayload), 'every body reaches the worker');
  const inbox = createInbox();
  const codes = new Map<string, number>();
  let replies = 0;
  raw.subscribe(`${inbox}.*`, {
    callback: (_err, msg) => {
      replies++;
      const reply = decodeReply(msg.data);
      const code = reply.ok ? 'OK' : reply.error.code;
      codes.set(code, (codes.get(code) ?? 0) + 1);
    },
  });
  const round = async () => {
    const expected = replies + bodies.length;
    let sent = 0;
    for (const [i, body] of bodies.entries()) {
      raw.publish('rpc.probe.whoami', body, { reply: `${inbox}.${i}` });
      if (++sent % 100 === 0) await raw.flush(); // paced, so the test measures handling, not a slow-consumer cut
    }
    // A few without a reply subject: dropped and counted, nothing to answer.
    for (let i = 0; i < 10; i++) raw.publish('rpc.probe.whoami', randomBytes(16));
    await raw.flush();
    assert.ok(await waitFor(() => replies >= expected, 20_000), `${replies} of ${expected} answered`);
  };

  // The warm-up round brings the worker's heap and allocator to their working size.
  await round();
  const before = await memory();
  for (let r = 0; r < MEASURED_ROUNDS; r++) await round();
  const after = await memory();

  assert.deepEqual([...codes], [['BAD_REQUEST', bodies.length * (MEASURED_ROUNDS + 1)]]);
  assert.equal(((await client.call('probe.whoami')) as { pid: number }).pid, worker.pid, 'the worker still serves');
  // The bodies with a __proto__ key were decoded in the worker, so that is where to look.
  assert.deepEqual(await client.call('probe.prototype'), { added: [], polluted: false }, 'Object.prototype of the worker is untouched');

  // The decode limits make every body's cost transient: at most max_payload bytes, decoded into at
  // most DEFAULT_MAX_ELEMENTS values, all garbage once it is answered. So what the worker keeps
  // (heap and ArrayBuffers after a full collection) must not grow by even one largest body...
  const MB = 2 ** 20;
  const kept = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  // ...and its RSS, once the warm-up round has grown the heap and the allocator's free lists to
  // what one message at a time needs, stays at that size however many bodies follow (this machine
  // shows up to about one round's bytes of drift). A worker that kept what it was sent would grow
  // by the bytes of every measured round; half of those separates the two.
  const rssBound = (MEASURED_ROUNDS * bytesPerRound) / 2;
  const rssGrowth = after.rss - before.rss;
  t.diagnostic(
    `${bodies.length} malformed bodies (${(bytesPerRound / MB).toFixed(1)} MB) x ${MEASURED_ROUNDS + 1} rounds, all BAD_REQUEST; ` +
      `worker after warm-up: RSS ${(before.rss / MB).toFixed(1)} MB, then ${rssGrowth >= 0 ? '+' : ''}${(rssGrowth / MB).toFixed(1)} MB ` +
      `(bound ${(rssBound / MB).toFixed(1)} MB); kept ${(kept / MB).toFixed(2)} MB (bound ${(maxPayload / MB).toFixed(1)} MB)`,
  );
  assert.ok(kept < maxPayload, `the worker kept ${(kept / MB).toFixed(2)} MB more after ${MEASURED_ROUNDS} rounds`);
  assert.ok(rssGrowth < rssBound, `worker RSS grew by ${(rssGrowth / MB).toFixed(1)} MB over ${MEASURED_ROUNDS} rounds`);
  assert.equal(worker.child.exitCode, null, 'the worker did not crash');
});
