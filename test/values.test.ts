/**
 * Values travel faithfully, or are refused clearly (docs/protocol.md, *Values*): each row of the
 * table through the codec and through a real broker and worker process; each refusal names its
 * path and type, on the caller's side before anything is sent (BAD_REQUEST) and for a handler's
 * result (INTERNAL to the caller, the reason in the worker's $SRV.STATS and log); and the decode
 * side refuses what a Date or an int64 cannot hold and unknown extension types.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode as rawEncode } from '@msgpack/msgpack';
import { connect as natsConnect, StringCodec } from 'nats';
import { connect, isRpcError } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { decodeChecked, decodeReply, decodeRequest, encodeReply, encodeRequest } from '../src/protocol/codec.js';
import { checkMsgpack } from '../src/protocol/msgpack-guard.js';
import { MAX_VALUE_DEPTH } from '../src/protocol/value-check.js';
import { closing, startNats } from './helpers/nats.js';
import { spawnWorker } from './helpers/processes.js';

const viaRequest = (payload: unknown) => decodeRequest(encodeRequest({ v: 1, id: 'r1', method: 'm', budgetMs: 1_000, attempt: 1, sentAt: Date.now(), payload })).payload;
const viaReply = (result: unknown) => (decodeReply(encodeReply({ v: 1, id: 'r1', ok: true, result })) as { result: unknown }).result;

/** The table: a value, what arrives. */
const ROWS: [string, unknown, unknown][] = [
  ['null', null, null],
  ['boolean', true, true],
  ['small integer', -17, -17],
  ['integer beyond 32 bits', 2 ** 40, 2 ** 40],
  ['largest safe integer', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  ['float', 0.1, 0.1],
  ['negative zero (arrives as 0, as in JSON)', -0, 0],
  ['string', 'héllo ✓', 'héllo ✓'],
  ['array', [1, 'a', null, [true]], [1, 'a', null, [true]]],
  ['plain object', { a: 1, b: { c: 'x' } }, { a: 1, b: { c: 'x' } }],
  ['undefined property (omitted)', { a: 1, gone: undefined }, { a: 1 }],
  ['Uint8Array', new Uint8Array([1, 2, 255]), new Uint8Array([1, 2, 255])],
  ['Buffer (arrives as Uint8Array)', Buffer.from('hi'), new Uint8Array([104, 105])],
  ['Date', new Date(1_700_000_000_123), new Date(1_700_000_000_123)],
  ['Date before 1970', new Date(-86_400_001), new Date(-86_400_001)],
  ['Date beyond 2106 (96-bit timestamp)', new Date(8.64e15), new Date(8.64e15)],
  ['bigint that fits a safe number', 5n, 5],
  ['bigint beyond the safe range', 2n ** 60n, 2n ** 60n],
  ['int64 minimum', -(2n ** 63n), -(2n ** 63n)],
  ['int64 maximum', 2n ** 63n - 1n, 2n ** 63n - 1n],
  ['bigint beside large numbers', { n: 2 ** 40, b: 2n ** 62n }, { n: 2 ** 40, b: 2n ** 62n }],
];

/** Exactly equal, constructors included (a Buffer is not a Uint8Array here). */
function same(actual: unknown, expected: unknown, label: string): void {
  assert.deepStrictEqual(actual, expected, label);
  if (expected instanceof Uint8Array) assert.equal((actual as object).constructor, Uint8Array, `${label}: a plain Uint8Array`);
}

test('each row of the value table arrives as the table says, in a request and in a reply', () => {
  for (const [label, value, arrives] of ROWS) {
    same(viaRequest(value), arrives, `${label} (request)`);
    same(viaReply(value), arrives, `${label} (reply)`);
    same(viaRequest({ nested: [value] }), { nested: [arrives] }, `${label} (nested)`);
  }
  const bare = Object.create(null) as Record<string, unknown>;
  bare.k = 1;
  assert.deepEqual(viaRequest(bare), { k: 1 });
});

test('the wire forms: bin, timestamp extension -1, int64', () => {
  const bytes = (v: unknown) => [...encodeReply({ v: 1, id: 'r1', ok: true, result: { x: v } })].slice(-20);
  const tail = (v: unknown, n: number) => bytes(v).slice(-n);
  assert.deepEqual(tail(new Uint8Array([9]), 3), [0xc4, 1, 9]);
  assert.deepEqual(tail(new Date(1_000), 6), [0xd6, 0xff, 0, 0, 0, 1], 'timestamp 32');
  assert.deepEqual(tail(new Date(1_500), 10).slice(0, 2), [0xd7, 0xff], 'timestamp 64');
  assert.deepEqual(tail(new Date(-1_000), 15).slice(0, 3), [0xc7, 12, 0xff], 'timestamp 96');
  assert.deepEqual(tail(2n ** 60n, 9), [0xcf, 0x10, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(tail(-(2n ** 60n), 9), [0xd3, 0xf0, 0, 0, 0, 0, 0, 0, 0]);
});

/** Values that cannot travel unchanged, the path named and what the message says it is. */
const REFUSED: [unknown, string, RegExp][] = [
  [new Map([['a', 1]]), 'payload', /is a Map/],
  [{ tags: new Set([1]) }, 'payload.tags', /is a Set/],
  [{ items: [0, 1, 2, { when: Number.NaN }] }, 'payload.items[3].when', /is NaN/],
  [{ items: [1, undefined] }, 'payload.items[1]', /is undefined inside an array/],
  [[Number.POSITIVE_INFINITY], 'payload[0]', /is Infinity/],
  [{ at: new (class Point { x = 1; norm() { return 1; } })() }, 'payload.at', /is an instance of Point/],
  [{ f: () => 1 }, 'payload.f', /is a function/],
  [{ s: Symbol('s') }, 'payload.s', /is a symbol/],
  [{ n: 2n ** 63n }, 'payload.n', /is a bigint outside int64/],
  [{ n: -(2n ** 63n) - 1n }, 'payload.n', /is a bigint outside int64/],
  [{ d: new Date(Number.NaN) }, 'payload.d', /is an invalid Date/],
  [{ 'odd key': [new Float64Array(1)] }, 'payload["odd key"][0]', /is a Float64Array/],
  [{ re: /x/ }, 'payload.re', /is a RegExp/],
  [{ e: new Error('x') }, 'payload.e', /is a Error/],
];

test('what cannot travel unchanged is refused with BAD_REQUEST, naming the path and the type', () => {
  for (const [value, path, what] of REFUSED) {
    assert.throws(() => viaRequest(value), (e: unknown) => {
      assert.ok(isRpcError(e, 'BAD_REQUEST'), String(e));
      assert.ok((e as Error).message.startsWith(`${path} is `), `${(e as Error).message} names ${path}`);
      assert.match((e as Error).message, what);
      return true;
    });
  }
  const cyclic: Record<string, unknown> = { name: 'x' };
  cyclic.child = { parent: cyclic };
  assert.throws(() => viaRequest({ root: cyclic }), { message: /^payload\.root\.child\.parent is a reference back to payload\.root \(a cycle\)/ });
  let deep: unknown = 1;
  for (let i = 0; i <= MAX_VALUE_DEPTH; i++) deep = [deep];
  assert.throws(() => viaRequest(deep), new RegExp(`nested deeper than ${MAX_VALUE_DEPTH} levels`));
  let deepest: unknown = 1;
  for (let i = 0; i < MAX_VALUE_DEPTH; i++) deepest = [deepest];
  assert.deepEqual(viaRequest(deepest), deepest, 'the deepest value the guard accepts travels');
  assert.throws(() => viaReply({ m: new Map() }), { message: /^result\.m is a Map/ });
  assert.throws(() => encodeReply({ v: 1, id: 'r1', ok: false, error: { code: 'X', message: 'x', retryable: false, business: false, details: { at: new Set() } } }), { message: /^error\.details\.at is a Set/ });
});

test('the decode side: timestamps a Date cannot hold, unknown extensions and integers beyond int64 are refused', () => {
  const refused = (bytes: number[], why: RegExp) => assert.throws(() => decodeChecked(new Uint8Array(bytes)), (e: unknown) => isRpcError(e, 'BAD_REQUEST') && why.test((e as Error).message));
  refused([0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0], /outside int64/);
  refused([0xd4, 0x01, 0x00], /unsupported extension/);
  refused([0xc7, 2, 0x05, 0, 0], /unsupported extension/);
  refused([0xd5, 0xff, 0, 0], /invalid timestamp/);
  refused([0xc7, 4, 0xff, 0, 0, 0, 0], /invalid timestamp/);
  refused([0xd7, 0xff, 0xee, 0x6b, 0x28, 0x00, 0, 0, 0, 0], /invalid timestamp/); // 10^9 nanoseconds
  refused([0xc7, 12, 0xff, 0, 0, 0, 0, 0, 0, 0x07, 0xdc, 0, 0, 0, 0], /invalid timestamp/); // 2012 * 2^32 s
  // What another implementation may send: a small int64, a 96-bit timestamp with nanoseconds.
  assert.equal(decodeChecked(new Uint8Array([0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe])), -2);
  assert.equal(decodeChecked(new Uint8Array([0xcf, 0, 0, 0, 0, 0, 0, 0, 7])), 7);
  assert.equal(decodeChecked(new Uint8Array([0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0])), 2n ** 53n);
  const date = decodeChecked(new Uint8Array([0xc7, 12, 0xff, 0x00, 0x0f, 0x42, 0x40, 0, 0, 0, 0, 0, 0, 0, 1]));
  assert.deepEqual(date, new Date(1_001), '1 s and 10^6 ns');
  assert.equal(checkMsgpack(rawEncode(new Date(-1))), null);
});

test('through a broker and a worker process: rows arrive as the table says, refusals are typed and the worker keeps serving', async () => {
  await using nats = await startNats();
  await using worker = await spawnWorker('test/fixtures/values.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: createLogger('test', 'silent') }), (c) => c.close());
  await using raw = closing(await natsConnect({ servers: nats.url }), (c) => c.close());
  const stats = async () => {
    const reply = await raw.request('$SRV.STATS.values', undefined, { timeout: 2_000 });
    const body = JSON.parse(StringCodec().decode(reply.data)) as { endpoints: { name: string; num_requests: number; last_error: string }[] };
    return new Map(body.endpoints.map((e) => [e.name, e]));
  };

  for (const [label, value, arrives] of ROWS) same(await client.call('values.echo', { v: value }), { v: arrives }, label);
  assert.equal(await client.call('values.echo'), null, 'no payload arrives as null');
  assert.equal(await client.call('values.echo', undefined), null);
  const tags = await client.call('values.tags', { bytes: Buffer.from('x'), u8: new Uint8Array(2), when: new Date(), big: 2n ** 60n, small: 3n, f: 1.5 });
  assert.deepEqual(tags, { bytes: 'Uint8Array', u8: 'Uint8Array', when: 'Date', big: 'bigint', small: 'integer', f: 'float' });

  // The caller's refusals happen before sending: the worker never sees them.
  const before = (await stats()).get('echo')!.num_requests;
  for (const [value, path, what] of REFUSED) {
    await assert.rejects(client.call('values.echo', value), (e: unknown) => isRpcError(e, 'BAD_REQUEST') && (e as Error).message.includes(`${path} is `) && what.test((e as Error).message));
  }
  await assert.rejects(client.call('values.echo', { x: new Map() }, { idempotent: true }), (e: unknown) => isRpcError(e, 'BAD_REQUEST') && /payload\.x is a Map/.test((e as Error).message));
  assert.equal((await stats()).get('echo')!.num_requests, before, 'no refused payload reached the worker');

  // A handler's result that cannot travel: INTERNAL for the caller, the reason with the worker.
  const reasons: Record<string, RegExp> = {
    map: /result\.items\[1\] is a Map/,
    nan: /result\.score is NaN/,
    undefinedInArray: /result\[1\] is undefined inside an array/,
    instance: /result\.at is an instance of Point/,
    hugeBigint: /result\.n is a bigint outside int64/,
    cycle: /result\.self\.back is a reference back to result \(a cycle\)/,
  };
  for (const [kind, reason] of Object.entries(reasons)) {
    await assert.rejects(client.call('values.unsendable', { kind }), (e: unknown) => isRpcError(e, 'INTERNAL') && !reason.test((e as Error).message));
    assert.match((await stats()).get('unsendable')!.last_error, reason, kind);
    assert.deepEqual(await client.call('values.echo', { still: 'serving' }), { still: 'serving' }, `after ${kind}`);
  }
  assert.equal(worker.child.exitCode, null, 'the worker is still running');
});
