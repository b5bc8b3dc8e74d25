/**
 * OpenTelemetry spans for calls: a CLIENT span around each call the client makes, a SERVER span
 * around each handler run, joined through the W3C headers of the envelope. natsrpc uses only
 * `@opentelemetry/api`; spans exist only when the application has registered an SDK before it
 * creates its clients and workers. Whether one is registered is checked once, at creation, so a
 * process without an SDK pays one null check per call.
 */
import type { Span, Tracer } from '@opentelemetry/api';
import { openTelemetryApi } from '../deps/lazy.js';
import type { Headers } from '../protocol/envelope.js';
import { parseTraceparent, withTraceHeaders } from './trace-context.js';

export const TRACER_NAME = 'natsrpc';
export const RPC_SYSTEM = 'natsrpc';

/** The tracer of the registered SDK, or `null` when none is registered (the API's no-op). */
export function registeredTracer(): Tracer | null {
  const { trace } = openTelemetryApi();
  const provider = trace.getTracerProvider() as ReturnType<typeof trace.getTracerProvider> & {
    getDelegateTracer?: (name: string) => Tracer | undefined;
  };
  // The global provider is a proxy that has a delegate only once an SDK has registered itself.
  if (typeof provider.getDelegateTracer === 'function') return provider.getDelegateTracer(TRACER_NAME) ?? null;
  return provider.getTracer(TRACER_NAME);
}

function errorCodeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}

function fail(span: Span, err: unknown): void {
  const code = errorCodeOf(err);
  span.setAttribute('rpc.natsrpc.error_code', code);
  span.setStatus({ code: openTelemetryApi().SpanStatusCode.ERROR, message: code });
}

function rpcAttributes(service: string, method: string) {
  return { 'rpc.system': RPC_SYSTEM, 'rpc.service': service, 'rpc.method': method, 'messaging.system': 'nats' };
}

/** Client side: one CLIENT span per call, its context sent in the request's headers. */
export class ClientTracing {
  readonly #tracer: Tracer;

  constructor(tracer: Tracer) {
    this.#tracer = tracer;
  }

  /** Makes one call through `send` inside a CLIENT span; the span's context rides in the headers. */
  traced<O extends { headers?: Headers }, R>(target: string, options: O | undefined, send: (options: O) => Promise<R>): Promise<R> {
    const dot = target.indexOf('.');
    const service = target.slice(0, dot);
    const method = target.slice(dot + 1);
    const { context, SpanKind, trace } = openTelemetryApi();
    // The parent is the active span; failing that, a traceparent the caller forwards by hand.
    let parent = context.active();
    if (trace.getSpanContext(parent) === undefined) {
      const forwarded = parseTraceparent(options?.headers);
      if (forwarded !== undefined) parent = trace.setSpanContext(parent, forwarded);
    }
    const span = this.#tracer.startSpan(`${service}/${method}`, { kind: SpanKind.CLIENT, attributes: rpcAttributes(service, method) }, parent);
    const headers = withTraceHeaders(options?.headers, span.spanContext());
    let sent: Promise<R>;
    try {
      sent = send({ ...options, headers } as O);
    } catch (err) {
      fail(span, err);
      span.end();
      throw err;
    }
    return sent.then(
      (result) => {
        span.end();
        return result;
      },
      (err: unknown) => {
        fail(span, err);
        span.end();
        throw err;
      },
    );
  }
}

/** Worker side: one SERVER span per handler run, child of the caller's span, active while the handler runs. */
export class WorkerTracing {
  readonly #tracer: Tracer;
  readonly #spans = new WeakMap<object, Span>();

  constructor(tracer: Tracer) {
    this.#tracer = tracer;
  }

  /** Runs `handler` inside a SERVER span for the call `ctx`; {@link end} ends it. */
  run<R>(ctx: { service: string; method: string; requestId: string; attempt: number; headers: Headers }, handler: () => R): R {
    const { context, ROOT_CONTEXT, SpanKind, trace } = openTelemetryApi();
    const remote = parseTraceparent(ctx.headers);
    const parent = remote === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, remote);
    const span = this.#tracer.startSpan(
      `${ctx.service}/${ctx.method}`,
      {
        kind: SpanKind.SERVER,
        attributes: { ...rpcAttributes(ctx.service, ctx.method), 'rpc.natsrpc.request_id': ctx.requestId, 'rpc.natsrpc.attempt': ctx.attempt },
      },
      parent,
    );
    this.#spans.set(ctx, span);
    return context.with(trace.setSpan(parent, span), handler);
  }

  /** Ends the span of `ctx`, as failed when `err` is given. */
  end(ctx: object, failed: boolean, err?: unknown): void {
    const span = this.#spans.get(ctx);
    if (span === undefined) return;
    this.#spans.delete(ctx);
    if (failed) fail(span, err);
    span.end();
  }
}

/** Tracing for a new client, or `null` when no SDK is registered. */
export function clientTracing(): ClientTracing | null {
  const tracer = registeredTracer();
  return tracer === null ? null : new ClientTracing(tracer);
}

/** Tracing for a new worker, or `null` when no SDK is registered. */
export function workerTracing(): WorkerTracing | null {
  const tracer = registeredTracer();
  return tracer === null ? null : new WorkerTracing(tracer);
}
