/** What the stream tests share: the fixture worker's state, and the error a stream ends with. */
import assert from 'node:assert/strict';
import { RpcError } from '../../src/index.js';
import { createLogger } from '../../src/logging/logger.js';

export const quiet = createLogger('test', 'silent');
export const close = (c: { close(): Promise<void> }) => c.close();
export const MB = 1024 * 1024;

/** What test/fixtures/streamer.ts reports from its `state` method. */
export type StreamerState = { produced: number; finallyRuns: number; finallyAt: number; endedBy: string; rss: number };

/** The RpcError `run` rejects with; fails the test if it resolves or throws anything else. */
export async function rejection(run: () => Promise<unknown>): Promise<RpcError> {
  try {
    await run();
  } catch (err) {
    assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the stream to throw');
}
