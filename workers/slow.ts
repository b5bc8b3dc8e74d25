import { setTimeout as sleep } from 'node:timers/promises';
import { defineWorker, RpcError } from '../src/index.js';

/** Waits for the given number of ms (at most 60 s), honouring the call's abort signal. */
export default defineWorker({
  service: 'slow',
  version: '1.0.0',
  methods: {
    sleep: async ({ ms }: { ms: number }, ctx): Promise<{ sleptMs: number }> => {
      if (typeof ms !== 'number' || !(ms >= 0 && ms <= 60_000)) {
        throw new RpcError('BAD_REQUEST', 'payload must be { ms: number } with 0 <= ms <= 60000');
      }
      const started = Date.now();
      await sleep(ms, undefined, { signal: ctx.signal });
      return { sleptMs: Date.now() - started };
    },
  },
});
