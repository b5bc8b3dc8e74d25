/**
 * Tracing: W3C trace context travels in the envelope headers; with an OpenTelemetry SDK
 * registered, a two-hop call (a handler that calls another service) is one trace of four spans;
 * without one, natsrpc adds nothing to the wire. Tests run in order: the first before any SDK is
 * registered in this process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { connect, defineWorker, RpcError, startWorker, traceHeaders, type Headers, type RpcClient } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { parseTraceparent } from '../src/tracing/trace-context.js';
import { startNats } from './helpers/nats.js';

const quiet = createLogger('test', 'silent');

/** `front.ask` calls `back.work` with the plain client (issue-5's ctx.call would do the same). */
function services(inner: { client?: RpcClient; forward: boolean }, seen: { front?: Headers; back?: Headers }) {
  const back = defineWorker({
    service: 'back',
    methods: {
      work: (p: { n: number }, ctx) => {
        seen.back = ctx.headers;
        if (p.n < 0) throw new RpcError('NEGATIVE', 'n must not be negative');
        return p.n * 2;
      },
    },
  });
  const front = defineWorker({
    service: 'front',
    methods: {
      ask: async (p: { n: number }, ctx) => {
        seen.front = ctx.headers;
        const headers = inner.forward ? traceHeaders(ctx.headers) : undefined;
        return (await inner.client!.call<number>('back.work', p, { headers })) + 1;
      },
    },
  });
  return { front, back };
}

test('without an SDK: no trace headers are added, and forwarded ones pass through both hops unchanged', async () => {
  await using nats = await startNats();
  const seen: { front?: Headers; back?: Headers } = {};
  const inner = { forward: true } as { client?: RpcClient; forward: boolean };
  const { front, back } = services(inner, seen);
  const workers = [await startWorker(front, { servers: nats.url, logger: quiet }), await startWorker(back, { servers: nats.url, logger: quiet })];
  inner.client = await connect({ servers: nats.url, logger: quiet });
  const client = await connect({ servers: nats.url, logger: quiet });
  try {
    assert.equal(await client.call('front.ask', { n: 20 }), 41);
    assert.equal(seen.front?.traceparent, undefined);
    assert.equal(seen.back?.traceparent, undefined);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await client.call('front.ask', { n: 1 }, { headers: { traceparent, tracestate: 'congo=t61rcWkgMzE', other: 'x' } });
    assert.deepEqual(seen.front, { traceparent, tracestate: 'congo=t61rcWkgMzE', other: 'x' });
    assert.deepEqual(seen.back, { traceparent, tracestate: 'congo=t61rcWkgMzE' });
  } finally {
    await client.close();
    await inner.client.close();
    await Promise.all(workers.map((w) => w.stop()));
  }
});

test('with an SDK: a two-hop call is one trace: client → front (server) → client → back (server)', async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  await using nats = await startNats();
  const seen: { front?: Headers; back?: Headers } = {};
  // The nested call passes no headers: the active SERVER span of front.ask is its parent.
  const inner = { forward: false } as { client?: RpcClient; forward: boolean };
  const { front, back } = services(inner, seen);
  const workers = [await startWorker(front, { servers: nats.url, logger: quiet }), await startWorker(back, { servers: nats.url, logger: quiet })];
  inner.client = await connect({ servers: nats.url, logger: quiet });
  const client = await connect({ servers: nats.url, logger: quiet });
  try {
    assert.equal(await client.call('front.ask', { n: 20 }), 41);
    const spans = exporter.getFinishedSpans();
    const byName = (name: string, kind: SpanKind) => spans.find((s) => s.name === name && s.kind === kind);
    const callFront = byName('front/ask', SpanKind.CLIENT);
    const serveFront = byName('front/ask', SpanKind.SERVER);
    const callBack = byName('back/work', SpanKind.CLIENT);
    const serveBack = byName('back/work', SpanKind.SERVER);
    assert.ok(callFront && serveFront && callBack && serveBack, `four spans: ${spans.map((s) => `${s.name}/${s.kind}`)}`);
    const traceId = callFront.spanContext().traceId;
    for (const s of [serveFront, callBack, serveBack]) assert.equal(s.spanContext().traceId, traceId, `${s.name} in the same trace`);
    assert.equal(callFront.parentSpanContext, undefined, 'the outer call is the root');
    assert.equal(serveFront.parentSpanContext?.spanId, callFront.spanContext().spanId);
    assert.equal(callBack.parentSpanContext?.spanId, serveFront.spanContext().spanId);
    assert.equal(serveBack.parentSpanContext?.spanId, callBack.spanContext().spanId);
    // On the wire: the headers each worker received name the CLIENT span that called it.
    assert.equal(parseTraceparent(seen.front)?.spanId, callFront.spanContext().spanId);
    assert.equal(parseTraceparent(seen.back)?.spanId, callBack.spanContext().spanId);
    assert.equal(serveBack.attributes['rpc.service'], 'back');
    assert.equal(serveBack.attributes['rpc.method'], 'work');

    // An outer span of the application becomes the parent; failures mark every span on the path.
    exporter.reset();
    const outer = trace.getTracer('app').startSpan('request');
    await assert.rejects(
      context.with(trace.setSpan(context.active(), outer), () => client.call('front.ask', { n: -1 })),
      (e: RpcError) => e.code === 'NEGATIVE',
    );
    outer.end();
    const failed = exporter.getFinishedSpans().filter((s) => s.name !== 'request');
    assert.equal(failed.length, 4);
    for (const s of failed) {
      assert.equal(s.spanContext().traceId, outer.spanContext().traceId);
      assert.equal(s.status.code, SpanStatusCode.ERROR, `${s.name}/${s.kind} failed`);
      assert.equal(s.attributes['rpc.natsrpc.error_code'], 'NEGATIVE');
    }
  } finally {
    await client.close();
    await inner.client.close();
    await Promise.all(workers.map((w) => w.stop()));
    await provider.shutdown();
  }
});

test('with an SDK: ctx.call joins the trace too (the handler span is the parent of the nested call)', async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.disable();
  trace.setGlobalTracerProvider(provider);
  await using nats = await startNats();
  const back = defineWorker({ service: 'back2', methods: { work: (p: { n: number }) => p.n * 2 } });
  const front = defineWorker({ service: 'front2', methods: { ask: async (p: { n: number }, ctx) => (await ctx.call<number>('back2.work', p)) + 1 } });
  const workers = [await startWorker(front, { servers: nats.url, logger: quiet }), await startWorker(back, { servers: nats.url, logger: quiet })];
  const client = await connect({ servers: nats.url, logger: quiet });
  try {
    assert.equal(await client.call('front2.ask', { n: 20 }), 41);
    const spans = exporter.getFinishedSpans();
    const find = (name: string, kind: SpanKind) => spans.find((s) => s.name === name && s.kind === kind)!;
    const chain = [find('front2/ask', SpanKind.CLIENT), find('front2/ask', SpanKind.SERVER), find('back2/work', SpanKind.CLIENT), find('back2/work', SpanKind.SERVER)];
    assert.ok(chain.every(Boolean), `four spans: ${spans.map((s) => `${s.name}/${s.kind}`)}`);
    for (let i = 1; i < chain.length; i++) {
      assert.equal(chain[i]!.spanContext().traceId, chain[0]!.spanContext().traceId);
      assert.equal(chain[i]!.parentSpanContext?.spanId, chain[i - 1]!.spanContext().spanId, `${chain[i]!.name}/${chain[i]!.kind} is a child of the span before it`);
    }
  } finally {
    await client.close();
    await Promise.all(workers.map((w) => w.stop()));
    await provider.shutdown();
  }
});
