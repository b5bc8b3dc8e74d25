/**
 * The core call path against a real broker: round trips through the library, the typed proxy and
 * the CLI, and each way a call can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { connect, defineWorker, RpcError, startWorker, type ApiOf } from '../src/index.js';
import { OVERRUN_GRACE_MS } from '../src/worker/handler-deadlines.js';
import math from '../workers/math.js';
import echo from '../workers/echo.js';
import { closing, startNats } from './helpers/nats.js';
import { runCli, spawnWorker } from './helpers/processes.js';
import { waitFor } from './helpers/load.js';
import { createLogger } from '../src/logging/logger.js';

const quiet = createLogger('test', 'silent');
const stop = (w: { stop(): Promise<void> }) => w.stop();
const close = (c: { close(): Promise<void> }) => c.close();

test('round trip through the library and the typed proxy (item 1)', async () => {
  await using nats = await startNats();
  await using _worker = closing(await startWorker(math, { servers: nats.url, logger: quiet }), stop);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  assert.equal(await client.call('math.add', { a: 1, b: 2 }), 3);
  const m = client.service<ApiOf<typeof math>>('math');
  const sum: number = await m.add({ a: 20, b: 22 });
  assert.equal(sum, 42);
  assert.equal(await m.div({ a: 9, b: 3 }), 3);
});

test("a handler's ctx shows what handlers need and none of the worker's bookkeeping, which it cannot change by name", async () => {
  await using nats = await startNats();
  const bookkeeping = ['deadlineBucket', 'deadlinePrev', 'deadlineNext', 'activePrev', 'activeNext', 'active', 'startedAt', 'tracked', 'reply', 'pastDeadline'];
  const peek = defineWorker({
    service: 'peek',
    methods: {
      look: (_: null, ctx) => {
        const seen = { keys: Object.keys(ctx), json: JSON.stringify(ctx), shown: inspect(ctx) };
        // Writing the old field names only adds plain properties: the worker's own stay as they were.
        const loose = ctx as unknown as Record<string, unknown>;
        for (const name of bookkeeping) loose[name] = name === 'startedAt' ? 0 : null;
        return seen;
      },
    },
  });
  await using worker = closing(await startWorker(peek, { servers: nats.url, logger: quiet }), stop);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const began = performance.now();
  const seen = (await client.call('peek.look', null)) as { keys: string[]; json: string; shown: string };
  for (const name of bookkeeping) {
    assert.ok(!seen.keys.includes(name), `Object.keys(ctx) has no ${name}`);
    assert.ok(!seen.json.includes(`"${name}"`), `JSON.stringify(ctx) has no ${name}`);
    assert.ok(!seen.shown.includes(name), `inspect(ctx) shows no ${name}: ${seen.shown}`);
  }
  assert.match(seen.shown, /requestId/);
  assert.doesNotMatch(seen.shown, /Symbol\(/);
  // The calls ended normally, left the running list and recorded their real latency: within the
  // caller's round trips (from startedAt = 0 it would be this process's whole uptime).
  await client.call('peek.look', null);
  const span = performance.now() - began;
  assert.ok(await waitFor(() => worker.inFlight === 0, 5_000), 'the calls left the list of running calls');
  const { p99Ms, ok } = worker.snapshot();
  assert.equal(ok, 2);
  assert.ok(p99Ms <= span, `handler latency ${p99Ms} ms within the calls' ${span} ms`);
});

test('round trip through the CLI: a worker process and natsrpc call (item 1)', async () => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('workers/math.ts', nats.url);
  const ok = await runCli(['call', 'math.add', '{"a":40,"b":2}', '--servers', nats.url]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), '42');
  const biz = await runCli(['call', 'math.div', '{"a":1,"b":0}', '--servers', nats.url]);
  assert.equal(biz.code, 1);
  assert.match(biz.stderr, /^DIVIDE_BY_ZERO: cannot divide 1 by zero/m);
  const usage = await runCli(['call', 'math.add', '{not json', '--servers', nats.url]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /not valid JSON/);
  const help = await runCli(['worker', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: natsrpc worker/);
});

test('NO_RESPONDERS when no worker is up; UNAVAILABLE when the broker is stopped (item 3)', async () => {
  await using nats = await startNats();
  {
    await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
    await assert.rejects(client.call('math.add', { a: 1, b: 1 }), (e: RpcError) => e.code === 'NO_RESPONDERS' && e.retryable);
    await nats.stop();
    const started = performance.now();
    await assert.rejects(client.call('math.add', { a: 1, b: 1 }, { timeoutMs: 3_000 }), (e: RpcError) => e.code === 'UNAVAILABLE');
    assert.ok(performance.now() - started < 1_000, 'UNAVAILABLE must not wait out the timeout');
  }
  await assert.rejects(connect({ servers: nats.url, logger: quiet }), (e: RpcError) => e.code === 'UNAVAILABLE');
});

test('TIMEOUT from a slow handler, whose ctx.signal fires at the deadline (item 4)', async () => {
  await using nats = await startNats();
  let abortedAfterMs = -1;
  let reason: unknown;
  const slow = defineWorker({
    service: 'slowpoke',
    methods: {
      wait: (_: null, ctx) =>
        new Promise((resolve) => {
          const started = Date.now();
          ctx.signal.addEventListener('abort', () => {
            abortedAfterMs = Date.now() - started;
            reason = ctx.signal.reason;
            resolve('too late');
          });
        }),
    },
  });
  await using worker = closing(await startWorker(slow, { servers: nats.url, logger: quiet }), stop);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const started = performance.now();
  await assert.rejects(client.call('slowpoke.wait', null, { timeoutMs: 300 }), (e: RpcError) => e.code === 'TIMEOUT' && e.maybeProcessed);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 300, `timed out early, after ${elapsed} ms`);
  // The worker's signal fires on its own timer (or the caller's cancel), which a loaded machine may
  // run after the caller's rejection.
  assert.ok(await waitFor(() => abortedAfterMs >= 0, 10_000), "the handler's signal fired");
  assert.ok(abortedAfterMs >= 250, `signal fired after ${abortedAfterMs} ms`);
  assert.equal((reason as RpcError).code, 'TIMEOUT');
  // It stopped as soon as its signal fired: within the grace, so no overrun.
  assert.equal(worker.stats.overruns, 0, 'a handler that stops promptly at its deadline is no overrun');
  assert.equal(worker.overdue, 0);
});

test('a handler that runs on past its deadline plus the grace is overdue, and its end is an overrun', async () => {
  await using nats = await startNats();
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let aborted = false;
  const stubborn = defineWorker({
    service: 'stubborn',
    methods: {
      wait: async (_: null, ctx) => {
        ctx.signal.addEventListener('abort', () => (aborted = true));
        await released; // ignores its signal
        return 'late';
      },
    },
  });
  await using worker = closing(await startWorker(stubborn, { servers: nats.url, logger: quiet }), stop);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  try {
    await assert.rejects(client.call('stubborn.wait', null, { timeoutMs: 100 }), (e: RpcError) => e.code === 'TIMEOUT');
    assert.ok(await waitFor(() => aborted, 5_000), 'its signal fired at the deadline');
    // Within the grace nothing counts against the worker yet; once it has passed, the handler is overdue.
    assert.ok(await waitFor(() => worker.overdue === 1, OVERRUN_GRACE_MS + 5_000), 'overdue once the grace has passed');
    assert.equal(worker.stats.overruns, 0, 'still running: not an overrun until it ends');
  } finally {
    release();
  }
  assert.ok(await waitFor(() => worker.stats.overruns === 1, 5_000), "its end is an overrun");
  assert.equal(worker.overdue, 0);
});

test('business codes reach the caller unchanged; INTERNAL hides the stack (item 5)', async () => {
  await using nats = await startNats();
  const lines: string[] = [];
  const { pino } = await import('pino');
  const logger = pino({ level: 'error' }, { write: (l: string) => lines.push(l) });
  const { default: probe } = await import('./fixtures/probe.js');
  await using _worker = closing(await startWorker(probe, { servers: nats.url, logger }), stop);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  await assert.rejects(client.call('probe.reject', { code: 'INSUFFICIENT_FUNDS', message: 'balance is 3, need 5' }), (e: RpcError) => {
    assert.equal(e.code, 'INSUFFICIENT_FUNDS');
    assert.equal(e.message, 'balance is 3, need 5');
    assert.equal(e.business, true);
    assert.equal(e.retryable, false);
    assert.deepEqual(e.details, { from: process.pid });
    return true;
  });
  await assert.rejects(client.call('probe.crash', null), (e: RpcError) => {
    assert.equal(e.code, 'INTERNAL');
    assert.equal(e.business, false);
    assert.equal(e.details, undefined, 'INTERNAL carries no details');
    // What crosses the wire is the message and the details; the local error's own stack is the
    // client's and says nothing about the worker.
    const sent = `${e.message}\n${JSON.stringify(e.details ?? null)}`;
    assert.doesNotMatch(sent, /secret internal detail/, 'the thrown error\'s message stays in the worker');
    assert.doesNotMatch(sent, /^\s*at |\(?[\w./\\-]+\.[cm]?[jt]sx?:\d+(:\d+)?\)?|fixtures\/probe/m, 'no stack frame is sent');
    return true;
  });
  assert.ok(lines.some((l) => l.includes('secret internal detail') && l.includes('"stack"')), 'the worker logs the stack');
  await assert.rejects(client.call('probe.nope', null), (e: RpcError) => e.code === 'METHOD_NOT_FOUND');
  assert.equal(await client.call('echo.echo', 1).catch((e: RpcError) => e.code), 'NO_RESPONDERS');
});

test('OVERLOADED at once when the concurrency limit is full (item 6)', async () => {
  await using nats = await startNats();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const held = defineWorker({ service: 'held', concurrency: 2, methods: { hold: () => gate.then(() => 'done') } });
  // Opening the gate first lets a failed test stop the worker without waiting out its drain.
  await using worker = closing(await startWorker(held, { servers: nats.url, logger: quiet }), (w) => (release(), w.stop()));
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const first = [client.call('held.hold'), client.call('held.hold')];
  assert.ok(await waitFor(() => worker.inFlight === 2, 5_000), `both calls held: ${worker.inFlight} in flight`);
  const started = performance.now();
  await assert.rejects(client.call('held.hold', null, { timeoutMs: 5_000 }), (e: RpcError) => e.code === 'OVERLOADED' && e.retryable && !e.maybeProcessed);
  assert.ok(performance.now() - started < 1_000, 'OVERLOADED is answered at once');
  release();
  assert.deepEqual(await Promise.all(first), ['done', 'done']);
  assert.equal(await client.call('held.hold'), 'done');
});

test('a payload over max_payload travels in chunks, one over maxBodyBytes is PAYLOAD_TOO_LARGE, and the connection keeps working (item 8)', async () => {
  await using nats = await startNats({ configText: 'max_payload: 65536' });
  await using _worker = closing(await startWorker(echo, { servers: nats.url, logger: quiet }), stop);
  await using client = closing(await connect({ servers: nats.url, logger: quiet, maxBodyBytes: 200_000 }), close);
  const chunked = new Uint8Array(150_000).map((_, i) => i & 0xff);
  assert.deepEqual(await client.call('echo.echo', chunked), chunked);
  await assert.rejects(client.call('echo.echo', new Uint8Array(250_000)), (e: RpcError) => e.code === 'PAYLOAD_TOO_LARGE' && !e.maybeProcessed);
  const big = new Uint8Array(60_000).fill(7);
  const back = (await client.call('echo.echo', big)) as Uint8Array;
  assert.equal(back.length, 60_000);
  assert.equal(await client.call('echo.echo', 'still fine'), 'still fine');
});

test('a reply over the worker\'s maxBodyBytes reaches the caller as PAYLOAD_TOO_LARGE', async () => {
  await using nats = await startNats({ configText: 'max_payload: 65536' });
  const grow = defineWorker({ service: 'grow', methods: { big: (n: number) => new Uint8Array(n) } });
  await using _worker = closing(await startWorker(grow, { servers: nats.url, logger: quiet, maxBodyBytes: 80_000 }), stop);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  await assert.rejects(client.call('grow.big', 100_000), (e: RpcError) => e.code === 'PAYLOAD_TOO_LARGE');
  assert.equal(((await client.call('grow.big', 70_000)) as Uint8Array).length, 70_000);
  assert.equal(((await client.call('grow.big', 10)) as Uint8Array).length, 10);
});

test('cancelling a call with an AbortSignal rejects it at once with CANCELLED', async () => {
  await using nats = await startNats();
  const { default: probe } = await import('./fixtures/probe.js');
  await using _worker = closing(await startWorker(probe, { servers: nats.url, logger: quiet }), stop);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const ac = new AbortController();
  const pending = client.call('probe.sleep', { ms: 2_000 }, { signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  const started = performance.now();
  await assert.rejects(pending, (e: RpcError) => e.code === 'CANCELLED');
  assert.ok(performance.now() - started < 500);
  await assert.rejects(client.call('probe.whoami', null, { signal: ac.signal }), (e: RpcError) => e.code === 'CANCELLED');
  await assert.rejects(client.call('not a target'), (e: RpcError) => e.code === 'BAD_REQUEST');
});

test('the demo (natsrpc dev --once) starts its own broker and workers, shows results and failures, and exits 0', async () => {
  const demo = await runCli(['dev', '--once'], { LOG_LEVEL: 'warn', NATS_URL: undefined });
  assert.equal(demo.code, 0, demo.stderr);
  assert.match(demo.stdout, /Started nats-server v2\.\d+/);
  assert.match(demo.stdout, /ok +math\.add \{a:2,b:3\} +-> 5/);
  assert.match(demo.stdout, /DIVIDE_BY_ZERO.*business rejection/);
  assert.match(demo.stdout, /TIMEOUT/);
  assert.match(demo.stdout, /NO_RESPONDERS/);
  assert.match(demo.stdout, /200 concurrent math\.add calls, all correct/);
});
