/**
 * The protocol layer on its own: errors, the msgpack guard, envelope validation and the deadline
 * queue. No broker needed: these are pure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode as rawEncode } from '@msgpack/msgpack';
import { RpcError, ErrorCode, isRpcError } from '../src/index.js';
import { mkdtemp, copyFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CODE_MEANING, codeMeaning, isRefusal, isWorkerFault } from '../src/protocol/errors.js';
import { checkMsgpack, sawWideInteger } from '../src/protocol/msgpack-guard.js';
import { decodeRequest, decodeReply, encodeRequest } from '../src/protocol/codec.js';
import { checkName } from '../src/protocol/subjects.js';
import { DEADLINE_BUCKET, DEADLINE_NEXT, DEADLINE_PREV, DeadlineQueue, type Expiring } from '../src/timing/deadline-queue.js';

test('RpcError: framework codes carry their retryability, application codes are business rejections', () => {
  assert.equal(new RpcError('OVERLOADED', 'x').retryable, true);
  assert.equal(new RpcError('TIMEOUT', 'x').retryable, false);
  assert.equal(new RpcError('TIMEOUT', 'x').maybeProcessed, true);
  const biz = new RpcError('INSUFFICIENT_FUNDS', 'no money', { details: { balance: 3 } });
  assert.equal(biz.business, true);
  assert.equal(biz.retryable, false);
  assert.deepEqual(biz.details, { balance: 3 });
  assert.equal(new RpcError('INTERNAL', 'x').business, false);
  assert.throws(() => new RpcError('lower case', 'x'), TypeError);
  const cause = new Error('root');
  assert.equal(new RpcError('UNAVAILABLE', 'x', { cause }).cause, cause);
  assert.ok(isRpcError(biz, 'INSUFFICIENT_FUNDS'));
  assert.equal(Object.keys(ErrorCode).length, 12);
});

test('one table says what each code means; every framework code has an entry', () => {
  for (const code of Object.values(ErrorCode)) assert.ok(CODE_MEANING[code], code);
  // Refusals: nothing processed, neither for nor against the worker.
  for (const code of ['NO_RESPONDERS', 'OVERLOADED', 'DRAINING', 'BAD_REQUEST', 'METHOD_NOT_FOUND']) assert.equal(isRefusal(code), true, code);
  // A reply too large left a worker after its handler ran: no refusal, and no fault of that worker.
  assert.equal(isRefusal('PAYLOAD_TOO_LARGE'), false);
  assert.equal(isWorkerFault('PAYLOAD_TOO_LARGE'), false);
  assert.deepEqual(Object.values(ErrorCode).filter(isWorkerFault), ['INTERNAL']);
  assert.equal(isWorkerFault('INSUFFICIENT_FUNDS'), false);
  assert.equal(codeMeaning('INSUFFICIENT_FUNDS').retryable, false);
  // The table's defaults are what an RpcError carries unless told otherwise.
  for (const code of Object.values(ErrorCode)) {
    const e = new RpcError(code, 'x');
    assert.equal(e.retryable, CODE_MEANING[code].retryable, code);
    assert.equal(e.maybeProcessed, CODE_MEANING[code].maybeProcessed, code);
  }
  const lost = new RpcError('WORKER_LOST', 'x');
  assert.equal(lost.maybeProcessed, true);
  assert.equal(lost.retryable, false);
});

test('RpcError.from keeps an RpcError and wraps anything else as INTERNAL with its cause', () => {
  const e = new RpcError('OVERLOADED', 'full');
  assert.equal(RpcError.from(e), e);
  const cause = new Error('boom');
  const wrapped = RpcError.from(cause);
  assert.equal(wrapped.code, 'INTERNAL');
  assert.equal(wrapped.message, 'boom');
  assert.equal(wrapped.cause, cause);
  assert.equal(RpcError.from('text').message, 'text');
  assert.equal(RpcError.from(undefined).code, 'INTERNAL');
  assert.equal(new Error('x') instanceof RpcError, false);
  assert.equal((null as unknown as object) instanceof RpcError, false);
});

test('instanceof RpcError holds across two copies of the module', async () => {
  // A second copy of errors.ts, loaded from another path, as two installed versions would be.
  const dir = await mkdtemp(join(tmpdir(), 'natsrpc-copy-'));
  try {
    const copy = join(dir, 'errors.ts');
    await copyFile(fileURLToPath(new URL('../src/protocol/errors.ts', import.meta.url)), copy);
    const other = (await import(pathToFileURL(copy).href)) as typeof import('../src/protocol/errors.js');
    assert.notEqual(other.RpcError, RpcError);
    const foreign = new other.RpcError('DRAINING', 'leaving');
    assert.ok(foreign instanceof RpcError);
    assert.ok(new RpcError('DRAINING', 'x') instanceof other.RpcError);
    assert.ok(isRpcError(foreign, 'DRAINING'));
    assert.equal(RpcError.from(foreign), foreign);
    // A subclass keeps the ordinary prototype check.
    class Sub extends RpcError {}
    assert.ok(new Sub('INTERNAL', 'x') instanceof RpcError);
    assert.equal(new RpcError('INTERNAL', 'x') instanceof Sub, false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('checkMsgpack accepts well-formed values and refuses malformed ones with a reason', () => {
  assert.equal(checkMsgpack(rawEncode({ a: [1, 'x', null, true, 1.5, new Uint8Array(3)], b: { c: -5 } })), null);
  assert.equal(checkMsgpack(rawEncode(new Date(0))), null);
  assert.match(checkMsgpack(new Uint8Array([]))!, /empty/);
  assert.match(checkMsgpack(new Uint8Array([0x92, 0x01]))!, /truncated/);
  assert.match(checkMsgpack(new Uint8Array([0x01, 0x02]))!, /trailing/);
  assert.match(checkMsgpack(new Uint8Array([0xc1]))!, /invalid type/);
  assert.match(checkMsgpack(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]))!, /elements|truncated/);
  assert.match(checkMsgpack(new Uint8Array([0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61]))!, /truncated/);
  assert.match(checkMsgpack(new Uint8Array(100).fill(0x91).map((b, i) => (i === 99 ? 0 : b)))!, /nesting/);
  assert.equal(checkMsgpack(new Uint8Array([0xcf, 0x00, 0x40, 0, 0, 0, 0, 0, 0])), null);
  assert.equal(sawWideInteger(), true, 'an integer beyond 2^53 is decoded as a bigint');
  assert.match(checkMsgpack(new Uint8Array([0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0]))!, /outside int64/);
  assert.equal(checkMsgpack(new Uint8Array([0xcf, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), null);
  assert.equal(sawWideInteger(), false);
  assert.match(checkMsgpack(new Uint8Array([0xd4, 0x05, 0x00]))!, /extension/);
  const many = rawEncode(Array.from({ length: 2_000 }, () => 0));
  assert.match(checkMsgpack(many, { maxDepth: 8, maxElements: 1_000 })!, /elements/);
});

test('decodeRequest validates the envelope and refuses prototype tricks', () => {
  const good = { v: 1, id: 'a1', method: 'add', budgetMs: 100, attempt: 1, payload: { a: 1 } };
  assert.deepEqual(decodeRequest(encodeRequest(good as never)).payload, { a: 1 });
  const bad = (value: unknown, pattern: RegExp) =>
    assert.throws(() => decodeRequest(rawEncode(value)), (e: unknown) => isRpcError(e, 'BAD_REQUEST') && pattern.test((e as Error).message));
  bad({ ...good, v: 2 }, /version/);
  bad({ ...good, budgetMs: -1 }, /budgetMs/);
  bad({ ...good, attempt: 0 }, /attempt/);
  bad({ ...good, id: 5 }, /id/);
  bad({ ...good, headers: { a: 1 } }, /header/);
  bad([1, 2, 3], /not a map/);
  const { payload: _p, ...noPayload } = good;
  assert.equal(decodeRequest(rawEncode(noPayload)).payload, undefined, 'an absent payload is nil');
  // A __proto__ key is refused by the decoder; a constructor key stays a plain own property.
  const proto = rawEncode({ ...good, payload: { ['__proto__']: { polluted: true } } });
  assert.throws(() => decodeRequest(proto), (e: unknown) => isRpcError(e, 'BAD_REQUEST'));
  const ctor = decodeRequest(rawEncode({ ...good, payload: { constructor: { prototype: { polluted: true } } } }));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(ctor.payload), Object.prototype);
});

test('decodeReply accepts both reply shapes and refuses unknown error codes', () => {
  assert.deepEqual(decodeReply(rawEncode({ v: 1, id: 'x', ok: true, result: 3 })), { v: 1, id: 'x', ok: true, result: 3 });
  const err = { v: 1, id: 'x', ok: false, error: { code: 'DIVIDE_BY_ZERO', message: 'm', retryable: false, business: true } };
  assert.equal(decodeReply(rawEncode(err)).ok, false);
  assert.throws(() => decodeReply(rawEncode({ ...err, error: { ...err.error, code: 'bad code' } })), (e: unknown) => isRpcError(e, 'BAD_REQUEST'));
});

test('service and method names refuse dots, wildcards, spaces and a leading underscore', () => {
  assert.equal(checkName('math'), null);
  assert.equal(checkName('user-profile_2'), null);
  for (const bad of ['a.b', '*', '>', 'a b', '_hb', '', 'x'.repeat(65)]) assert.notEqual(checkName(bad), null, bad);
});

test('DeadlineQueue expires items at their deadline, never early, and not after delete', async () => {
  const expired: Array<{ name: string; at: number }> = [];
  class Item implements Expiring {
    [DEADLINE_BUCKET] = 0;
    [DEADLINE_PREV]: Expiring | null = null;
    [DEADLINE_NEXT]: Expiring | null = null;
    constructor(readonly name: string, readonly due: number) {}
  }
  const q = new DeadlineQueue<Item>((item) => expired.push({ name: item.name, at: performance.now() - item.due }));
  const now = performance.now();
  const a = new Item('a', now + 30);
  const b = new Item('b', now + 60);
  const c = new Item('c', now + 30);
  q.add(b, b.due);
  q.add(a, a.due);
  q.add(c, c.due);
  assert.equal(q.delete(c), true);
  assert.equal(q.delete(c), false);
  await new Promise((r) => setTimeout(r, 120));
  assert.deepEqual(expired.map((e) => e.name).sort(), ['a', 'b']);
  assert.equal(expired.at(-1)!.name, 'b', 'the later deadline expires later');
  for (const e of expired) assert.ok(e.at >= 0, `expired ${-e.at} ms early`);
  assert.equal(q.size, 0);
  assert.equal(q.delete(a), false, 'an expired item is no longer queued');

  // Many items in one bucket, removed from its head, middle and tail, and one moved to another
  // deadline: only what is still queued expires, once, and clear() forgets everything.
  const items = Array.from({ length: 50 }, (_, i) => new Item(`i${i}`, performance.now() + 20));
  for (const item of items) q.add(item, item.due);
  assert.equal(q.size, 50);
  for (const i of [0, 25, 49]) assert.equal(q.delete(items[i]!), true);
  q.add(items[10]!, performance.now() + 10_000);
  assert.equal(q.size, 47);
  expired.length = 0;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(expired.length, 46);
  assert.ok(!expired.some((e) => ['i0', 'i25', 'i49', 'i10'].includes(e.name)));
  assert.equal(q.size, 1);
  q.clear();
  assert.equal(q.size, 0);
  assert.equal(items[10]![DEADLINE_BUCKET], 0);
});
