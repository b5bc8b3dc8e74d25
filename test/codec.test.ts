/**
 * The hot-path envelope codec must write exactly what the generic msgpack encoder writes and read
 * back exactly what the generic decoder reads, for every shape of envelope, including the ones it
 * hands over to the generic codec (unknown keys, non-ASCII strings, unusual numbers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Encoder, decode } from '@msgpack/msgpack';
import { decodeReply, decodeRequest, encodeReply, encodeRequest } from '../src/protocol/codec.js';
import type { RequestEnvelope } from '../src/protocol/envelope.js';

const generic = new Encoder({ ignoreUndefined: true });
const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);

const payloads: unknown[] = [
  null, 0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -33, 1.5,
  true, false, '', 'a', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(300), 'héllo ✓', { a: 1, b: [1, 'x', null] },
  [], bytes(0), bytes(10), bytes(255), bytes(256), bytes(70_000), new Date(0), { nested: { deep: bytes(3) } },
];

const requests: RequestEnvelope[] = [];
for (const payload of payloads) {
  requests.push({ v: 1, id: 'abc.1', method: 'run', budgetMs: 5_000, attempt: 1, sentAt: 1_764_000_000_000, payload });
}
requests.push(
  { v: 1, id: 'a', method: 'm', budgetMs: 0, attempt: 1 },
  { v: 1, id: 'a'.repeat(40), method: 'method-name_2', budgetMs: 86_400_000, attempt: 999, headers: { trace: 't', 'x-user': 'ü' }, payload: 'p' },
  { v: 1, id: 'ünïcode', method: 'm', budgetMs: 100, attempt: 1, payload: 1 },
  { v: 1, id: 'a', method: 'm', budgetMs: 100, attempt: 1, sentAt: undefined, headers: undefined, payload: undefined },
  { v: 1, id: 'a', method: 'm', budgetMs: 100, attempt: 1, payload: 1, extra: 'kept' } as RequestEnvelope,
  { v: 1, id: 'a.b', method: 'm', budgetMs: 100, attempt: 2, sentAt: 1, payload: bytes(5), ack: true, cancellable: true },
  { v: 1, id: 'a.b', method: 'm', budgetMs: 100, attempt: 2, payload: null, ack: undefined, cancellable: false },
  { v: 1, id: 'a.b', method: 'm', budgetMs: 100, attempt: 2, payload: null, ack: 'yes' } as unknown as RequestEnvelope,
  { v: 1, id: 'a', method: 'm', budgetMs: 1.5, attempt: 1, payload: 1 } as RequestEnvelope,
);

test('request envelopes encode byte for byte like the generic encoder and decode like the generic decoder', () => {
  for (const req of requests) {
    const ours = encodeRequest(req);
    const theirs = generic.encode(req);
    assert.deepEqual(Buffer.from(ours), Buffer.from(theirs), JSON.stringify(req, (_k, v) => (v instanceof Uint8Array ? `bin ${v.length}` : v)));
    const expected = decode(theirs) as Record<string, unknown>;
    // Absent keys may come back as undefined properties: compare what is defined.
    const defined = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    if (Number.isInteger(req.budgetMs)) assert.deepEqual(defined(decodeRequest(ours)), defined(expected));
  }
});

test('ok and error replies encode like the generic encoder and decode like the generic decoder', () => {
  for (const result of payloads) {
    const reply = { v: 1 as const, id: 'abc.1', ok: true as const, result };
    const ours = encodeReply(reply);
    assert.deepEqual(Buffer.from(ours), Buffer.from(generic.encode(reply)));
    assert.deepEqual(decodeReply(ours), decode(ours));
  }
  // A handler that returns nothing still sends the result key, as nil.
  const empty = encodeReply({ v: 1, id: 'abc.1', ok: true, result: undefined });
  assert.deepEqual(Buffer.from(empty), Buffer.from(generic.encode({ v: 1, id: 'abc.1', ok: true, result: null })));
  assert.ok(Object.hasOwn(decode(empty) as object, 'result'));
  const error = { v: 1 as const, id: 'e', ok: false as const, error: { code: 'OVERLOADED', message: 'full', retryable: true, business: false } };
  assert.deepEqual(decodeReply(encodeReply(error)), error);
});

test('encoded envelopes stay intact when many are encoded before any is sent', () => {
  const kept = Array.from({ length: 2_000 }, (_, i) => encodeRequest({ v: 1, id: `id.${i}`, method: 'run', budgetMs: i, attempt: 1, payload: bytes(i % 300) }));
  kept.forEach((b, i) => {
    const req = decodeRequest(b);
    assert.equal(req.id, `id.${i}`);
    assert.equal((req.payload as Uint8Array).length, i % 300);
  });
});
