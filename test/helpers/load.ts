/**
 * A steady closed-loop load for failure tests: `concurrency` callers, each calling again as soon
 * as its last call ends, until stopped or until `maxCalls`. Bounded in count and time.
 */
import type { RpcClient, CallOptions } from '../../src/index.js';
import { RpcError } from '../../src/index.js';

export interface LoadResult {
  ok: number;
  failed: Record<string, number>;
  errors: RpcError[];
  /** Wall-clock ms of each call's end, for throughput over time. */
  okTimes: number[];
}

export interface Load {
  stop(): Promise<LoadResult>;
  readonly result: LoadResult;
}

export function startLoad(
  client: RpcClient,
  target: string,
  payload: (i: number) => unknown,
  opts: { concurrency?: number; maxCalls?: number; maxDurationMs?: number; call?: CallOptions } = {},
): Load {
  const { concurrency = 8, maxCalls = 100_000, maxDurationMs = 60_000 } = opts;
  const result: LoadResult = { ok: 0, failed: {}, errors: [], okTimes: [] };
  const until = Date.now() + maxDurationMs;
  let stopped = false;
  let i = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped && i < maxCalls && Date.now() < until) {
      const n = i++;
      try {
        await client.call(target, payload(n), opts.call);
        result.ok++;
        result.okTimes.push(Date.now());
      } catch (err) {
        if (!(err instanceof RpcError)) throw err;
        result.failed[err.code] = (result.failed[err.code] ?? 0) + 1;
        if (result.errors.length < 50) result.errors.push(err);
      }
    }
  });
  const all = Promise.all(loops);
  return {
    result,
    async stop() {
      stopped = true;
      await all;
      return result;
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
