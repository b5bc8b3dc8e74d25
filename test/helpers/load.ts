/**
 * A steady closed-loop load for failure tests: `concurrency` callers, each calling again as soon
 * as its last call ends, until stopped or until `maxCalls`. Bounded in count and time.
 * `await using load = startLoad(...)` stops it when the test ends, pass or fail: loops left running
 * after a failed assertion would fire calls at a closed client until their time bound.
 */
import type { RpcClient, CallOptions } from '../../src/index.js';
import { RpcError } from '../../src/index.js';

export interface LoadResult {
  ok: number;
  failed: Record<string, number>;
  errors: RpcError[];
  /** Wall-clock ms of each call's end, for throughput over time. */
  okTimes: number[];
  /** Duration of every call in ms, failed ones included. */
  latencies: number[];
}

export interface Load extends AsyncDisposable {
  stop(): Promise<LoadResult>;
  /** Resolves when every loop has ended by itself (maxCalls or maxDurationMs). */
  readonly done: Promise<LoadResult>;
  readonly result: LoadResult;
}

export function startLoad(
  client: RpcClient,
  target: string,
  payload: (i: number) => unknown,
  opts: {
    concurrency?: number;
    maxCalls?: number;
    maxDurationMs?: number;
    call?: CallOptions;
    failurePauseMs?: number;
    /** Sees the value of every call that succeeds. */
    onResult?: (value: unknown) => void;
  } = {},
): Load {
  const { concurrency = 8, maxCalls = 100_000, maxDurationMs = 60_000 } = opts;
  const result: LoadResult = { ok: 0, failed: {}, errors: [], okTimes: [], latencies: [] };
  const until = Date.now() + maxDurationMs;
  let stopped = false;
  let i = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped && i < maxCalls && Date.now() < until) {
      const n = i++;
      const started = performance.now();
      try {
        const value = await client.call(target, payload(n), opts.call);
        result.ok++;
        result.okTimes.push(Date.now());
        result.latencies.push(performance.now() - started);
        opts.onResult?.(value);
      } catch (err) {
        result.latencies.push(performance.now() - started);
        if (!(err instanceof RpcError)) throw err;
        result.failed[err.code] = (result.failed[err.code] ?? 0) + 1;
        if (result.errors.length < 50) result.errors.push(err);
        // A caller that fails fast would otherwise spin; a real one would back off too.
        if (opts.failurePauseMs !== undefined) await sleep(opts.failurePauseMs);
      }
    }
  });
  const all = Promise.all(loops);
  return {
    result,
    done: all.then(() => result),
    async stop() {
      stopped = true;
      await all;
      return result;
    },
    async [Symbol.asyncDispose]() {
      stopped = true;
      // Only cleanup: a loop's unexpected error reaches the test through stop() or done.
      await all.catch(() => undefined);
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms until it is true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(20);
  }
  return check();
}

/** The `q` quantile (0..1) of `values`, or 0 when empty. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
