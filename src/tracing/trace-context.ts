/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) in envelope headers: `traceparent`
 * carries the trace id, the parent span id and the sampled flag, `tracestate` vendor data. natsrpc
 * reads and writes them itself rather than through the application's global propagator, so the
 * wire format is the same whatever the application registers.
 */
import type { SpanContext } from '@opentelemetry/api';
import { openTelemetryApi } from '../deps/lazy.js';
import type { Headers } from '../protocol/envelope.js';

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

const TRACEPARENT_FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** The remote span context a `traceparent` header names, or `undefined` when absent or invalid. */
export function parseTraceparent(headers: Headers | undefined): SpanContext | undefined {
  const value = headers?.[TRACEPARENT];
  if (value === undefined) return undefined;
  const m = TRACEPARENT_FORMAT.exec(value.trim());
  // Version ff is forbidden; version 00 must have nothing after the flags.
  if (m === null || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return undefined;
  const ctx: SpanContext = { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) & 0xff, isRemote: true };
  const { createTraceState, isSpanContextValid } = openTelemetryApi();
  const state = headers?.[TRACESTATE];
  if (state !== undefined) ctx.traceState = createTraceState(state);
  return isSpanContextValid(ctx) ? ctx : undefined;
}

/** `headers` plus the `traceparent` (and `tracestate`) of `ctx`; the input is not changed. */
export function withTraceHeaders(headers: Headers | undefined, ctx: SpanContext): Headers {
  const out: Headers = { ...headers, [TRACEPARENT]: `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & 0xff).toString(16).padStart(2, '0')}` };
  const state = ctx.traceState?.serialize();
  if (state) out[TRACESTATE] = state;
  else delete out[TRACESTATE];
  return out;
}

/**
 * The trace headers of a call being served, to pass on to the calls its handler makes, so that
 * they join the caller's trace even when no OpenTelemetry SDK is registered in this process.
 *
 * @example
 * ```ts
 * handler: async (p, ctx) => client.call('billing.charge', p, { headers: traceHeaders(ctx.headers) })
 * ```
 */
export function traceHeaders(headers: Headers | undefined): Headers | undefined {
  const parent = headers?.[TRACEPARENT];
  if (parent === undefined) return undefined;
  const state = headers?.[TRACESTATE];
  return state === undefined ? { [TRACEPARENT]: parent } : { [TRACEPARENT]: parent, [TRACESTATE]: state };
}
