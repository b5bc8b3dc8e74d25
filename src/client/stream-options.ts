/**
 * A stream's options, their defaults (the `stream.*` rows of the options table) and the spec a
 * stream runs with; what `client.stream()` returns.
 */
import type { Headers, StreamWindow } from '../protocol/envelope.js';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import { checkNumberOption, resolveNumber, type NumberOption } from '../options/resolve.js';
import { STREAM_OPTIONS } from '../options/table.js';
import type { LostWorkerPolicy } from './call-options.js';
import type { ResolvedTarget } from './transport.js';

/** Options of one stream. */
export interface StreamOptions {
  /** Overall deadline of the stream, in ms. Default `stream.timeoutMs` (300,000). */
  timeoutMs?: number;
  /** No item for this long while the loop waits for one ends the stream with TIMEOUT. Default 30,000. */
  idleTimeoutMs?: number;
  /** Aborting ends the stream with CANCELLED and the worker's generator with it. */
  signal?: AbortSignal;
  headers?: Headers;
  /** Credit window: how far the worker may run ahead of this loop. Default 4,096 items and 4 MiB. */
  window?: Partial<StreamWindow>;
}

/** What `client.stream()` returns: the items, in order; a stream that did not complete throws. */
export interface RpcStream<T> extends AsyncIterableIterator<T> {
  /** The worker serving the stream, once its first frame arrived. */
  readonly workerId: string | undefined;
  /** Ends the stream early: the worker's generator is cancelled (what `break` does). */
  return(): Promise<IteratorResult<T>>;
}

/** Stream defaults: `stream.*` rows of the options table, from the environment or their defaults. */
export function resolveStreamDefaults(): { timeoutMs: number; idleTimeoutMs: number; window: StreamWindow } {
  return {
    timeoutMs: resolveNumber(STREAM_OPTIONS.timeoutMs, undefined),
    idleTimeoutMs: resolveNumber(STREAM_OPTIONS.idleTimeoutMs, undefined),
    window: { items: resolveNumber(STREAM_OPTIONS.windowItems, undefined), bytes: resolveNumber(STREAM_OPTIONS.windowBytes, undefined) },
  };
}

/** A stream's spec from its options over the defaults; throws a TypeError naming a bad option. */
export function streamSpec(
  defaults: ReturnType<typeof resolveStreamDefaults>,
  common: { lostWorker: Readonly<LostWorkerPolicy>; limits: MsgpackLimits },
  target: ResolvedTarget,
  payload: unknown,
  o: StreamOptions | undefined,
): StreamSpec {
  const pick = (spec: NumberOption, value: number | undefined, fallback: number) => (value === undefined ? fallback : checkNumberOption(spec, value));
  if (o?.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  return {
    target,
    payload,
    headers: o?.headers,
    timeoutMs: pick(STREAM_OPTIONS.timeoutMs, o?.timeoutMs, defaults.timeoutMs),
    idleTimeoutMs: pick(STREAM_OPTIONS.idleTimeoutMs, o?.idleTimeoutMs, defaults.idleTimeoutMs),
    signal: o?.signal,
    window: {
      items: pick(STREAM_OPTIONS.windowItems, o?.window?.items, defaults.window.items),
      bytes: pick(STREAM_OPTIONS.windowBytes, o?.window?.bytes, defaults.window.bytes),
    },
    lostWorker: common.lostWorker,
    limits: common.limits,
  };
}

export interface StreamSpec {
  readonly target: ResolvedTarget;
  readonly payload: unknown;
  readonly headers: Headers | undefined;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly window: StreamWindow;
  readonly lostWorker: Readonly<LostWorkerPolicy>;
  readonly limits: MsgpackLimits;
}
