/**
 * CPU cost of the hot path without the network: the envelope codec, a worker's dispatch of one
 * request (decode, context, handler, reply encode) and a client's call and reply handling, each
 * against a stand-in connection whose publish does nothing. Best of 5 batches, CPU time per
 * operation, so a busy machine inflates it less than wall time.
 *
 *   node --import tsx bench/hot-path.ts [payload bytes, default 100] [binary|json, default binary]
 *
 * `json` makes the payload a plain JSON-like object of about that many bytes (strings, numbers, a
 * nested object and an array) instead of bytes: the values the caller-side value check walks.
 */
import type { NatsConnection } from 'nats';
import { resolveClientOptions, RpcClient } from '../src/client/client.js';
import { defineWorker } from '../src/worker/definition.js';
import { RpcWorker } from '../src/worker/worker.js';
import { createLogger } from '../src/logging/logger.js';
import { decodeReply, decodeRequest, encodeReply, encodeRequest } from '../src/protocol/codec.js';
import { DEFAULT_MSGPACK_LIMITS } from '../src/protocol/msgpack-guard.js';
import { DEFAULT_MAX_BODY_BYTES } from '../src/options/table.js';

const BATCH = 100_000;
const logger = createLogger('hot-path', 'warn');

async function measure(name: string, op: () => unknown): Promise<number> {
  // Awaiting costs a microtask: only operations that return a promise are awaited.
  const async = op() instanceof Promise;
  for (let i = 0; i < BATCH / 2; i++) if (async) await op(); else op();
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    if (async) for (let i = 0; i < BATCH; i++) await op();
    else for (let i = 0; i < BATCH; i++) op();
    const c = process.cpuUsage(c0);
    best = Math.min(best, ((c.user + c.system) * 1000) / BATCH);
  }
  process.stdout.write(`${name.padEnd(40)} ${best.toFixed(0).padStart(6)} ns\n`);
  return best;
}

/** A connection stand-in: remembers subscription callbacks by subject, and the last publish. */
function standIn() {
  type Callback = (err: Error | null, msg: unknown) => void;
  const subs = new Map<string, Callback>();
  const state = { reply: '', data: new Uint8Array(0) as Uint8Array, callback: (_subject: string | RegExp): Callback => {
    for (const [subject, cb] of subs) if (typeof _subject === 'string' ? subject === _subject : _subject.test(subject)) return cb;
    throw new Error(`no subscription on ${String(_subject)}`);
  } };
  const nc = {
    options: {},
    subscribe: (subject: string, opts: { callback: Callback }) => {
      subs.set(subject, opts.callback);
      return { unsubscribe() {}, drain: async () => {} };
    },
    publish: (_subject: string, data: Uint8Array, opts?: { reply?: string }) => {
      state.reply = opts?.reply ?? '';
      state.data = data;
    },
    isClosed: () => false,
    flush: async () => {},
    closed: () => new Promise(() => {}),
    status: () => ({ [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => {}) }) }),
  };
  return { nc: nc as unknown as NatsConnection, state };
}

const size = Number(process.argv[2] ?? 100);
const kind = process.argv[3] ?? 'binary';
/** A JSON-like object of about `bytes` bytes in msgpack. */
function jsonPayload(bytes: number): unknown {
  const items = Array.from({ length: Math.max(1, Math.round(bytes / 40)) }, (_, i) => ({ sku: `sku-${i}`, qty: i + 1, price: 9.99 }));
  return { id: 'order-1234', user: { name: 'Ada', admin: false }, items };
}
const payload = kind === 'json' ? jsonPayload(size) : new Uint8Array(size).fill(7);
// A budget of a day: the request must not expire (and be skipped) while it is replayed.
const request = { v: 1 as const, id: 'Zk3aQ9xW-bTr.2n9c', method: 'run', budgetMs: 86_400_000, attempt: 1, sentAt: Date.now(), payload };
const requestBytes = encodeRequest(request);
const replyBytes = encodeReply({ v: 1, id: request.id, ok: true, result: payload });

process.stdout.write(`hot path, ${size}-byte ${kind} payload (${encodeRequest({ ...request }).length} B request), node ${process.version}\n`);
await measure('encode request envelope', () => encodeRequest(request));
await measure('decode + validate request (guard included)', () => decodeRequest(requestBytes));
await measure('encode ok reply', () => encodeReply({ v: 1, id: request.id, ok: true, result: payload }));
await measure('decode + validate reply (guard included)', () => decodeReply(replyBytes));

{
  const { nc, state } = standIn();
  const def = defineWorker({ service: 'echo', methods: { run: (p: unknown) => p } });
  new RpcWorker(nc, def, { id: 'w', concurrency: 1_024, drainTimeoutMs: 1_000, maxBudgetMs: 300_000, prefix: 'rpc', logger, limits: DEFAULT_MSGPACK_LIMITS, ownsConnection: false, discovery: false, maxBodyBytes: DEFAULT_MAX_BODY_BYTES });
  const msg = { subject: 'rpc.echo.run', reply: '_INBOX.0123456789abcdefghijkl.1234', data: requestBytes, headers: undefined };
  const onRequest = state.callback('rpc.echo.*');
  await measure('worker: dispatch one request, sync handler', () => onRequest(null, msg));
}
{
  const { nc, state } = standIn();
  const client = new RpcClient(nc, { ...resolveClientOptions({ logger }), ownsConnection: false });
  // The reply is built outside the measured client work: its cost is measured alone and subtracted.
  const answer = () => encodeReply({ v: 1, id: decodeRequest(state.data).id, ok: true, result: payload });
  const onReply = state.callback(/^_INBOX\..*\*$/);
  const both = await measure('client: call + reply (+ stand-in worker)', () => {
    const p = client.call('echo.run', payload);
    onReply(null, { subject: state.reply, data: answer(), headers: undefined });
    return p;
  });
  const standInCost = await measure('stand-in worker alone (awaited)', () => Promise.resolve(answer()));
  process.stdout.write(`${'client: call + reply'.padEnd(40)} ${(both - standInCost).toFixed(0).padStart(6)} ns\n`);
}
process.exit(0);
