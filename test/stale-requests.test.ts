/**
 * Requests that sat unread while a worker was stopped are skipped, and only then is the caller's
 * clock compared with the worker's: a caller whose clock is far behind is served normally.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, defineWorker, RpcError, startWorker } from '../src/index.js';
import { openConnection } from '../src/connection/options.js';
import { decodeChecked, decodeReply, encodeRequest } from '../src/protocol/codec.js';
import type { WorkerHeartbeat } from '../src/protocol/heartbeat.js';
import { createLogger } from '../src/logging/logger.js';
import { LoopProgress } from '../src/timing/loop-progress.js';
import { closing, startNats } from './helpers/nats.js';
import { sleep, waitFor } from './helpers/load.js';
import { spawnWorker } from './helpers/processes.js';

const quiet = createLogger('test', 'silent');

function blockLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a handler hogging the event loop
  }
}

test('LoopProgress: a stop of the loop opens a window in which messages may be stale, and it closes again', async () => {
  const loop = new LoopProgress({ tickMs: 10, stalledMs: 300, windowMs: 300 });
  try {
    await sleep(50);
    assert.equal(loop.stalled(performance.now()), false, 'a loop that runs its timers is not stalled');
    blockLoop(400);
    assert.equal(loop.stalled(performance.now()), true, 'read before any timer ran again: may have waited through the stop');
    await sleep(20);
    assert.equal(loop.stalled(performance.now()), true, 'the late tick keeps the window open for the backlog');
    assert.ok(await waitFor(() => !loop.stalled(performance.now()), 5_000), 'the window closes once the loop runs normally');
  } finally {
    loop.close();
  }
});

test('a caller whose clock is a minute behind the worker is served: sentAt is only read after a stop', async () => {
  await using nats = await startNats();
  await using worker = closing(
    await startWorker(defineWorker({ service: 'clock', methods: { echo: (p: unknown) => p } }), { servers: nats.url, logger: quiet, heartbeat: false }),
    (w) => w.stop(),
  );
  const nc = await openConnection({ servers: nats.url });
  try {
    const request = encodeRequest({ v: 1, id: 'skewed.1', method: 'echo', budgetMs: 5_000, attempt: 1, sentAt: Date.now() - 60_000, payload: 'hi' });
    const reply = decodeReply((await nc.request('rpc.clock.echo', request, { timeout: 5_000 })).data);
    assert.deepEqual(reply, { v: 1, id: 'skewed.1', ok: true, result: 'hi' });
    assert.equal(worker.stats.expired, 0);
  } finally {
    await nc.close();
  }
});

test('after SIGSTOP and SIGCONT a worker skips the requests whose deadline passed while it was frozen, and serves the rest', async () => {
  // The default broker configuration keeps a frozen client connected for minutes: the requests
  // wait in its socket, which is the case being tested.
  await using nats = await startNats();
  await using worker = await spawnWorker('workers/echo.ts', nats.url, ['--heartbeat', '200']);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());
  const watcher = await openConnection({ servers: nats.url });
  const beats: WorkerHeartbeat[] = [];
  watcher.subscribe('rpc._hb.echo.>', { callback: (_e, m) => beats.push(decodeChecked(m.data) as WorkerHeartbeat) });
  try {
    assert.equal(await client.call('echo.echo', 'warm'), 'warm');
    worker.signal('SIGSTOP');
    const shortLived = Array.from({ length: 5 }, (_, i) => client.call('echo.echo', `short ${i}`, { timeoutMs: 300 }).then(
      () => 'ok',
      (e: RpcError) => e.code,
    ));
    const longLived = client.call('echo.echo', 'patient', { timeoutMs: 60_000 });
    assert.deepEqual(await Promise.all(shortLived), Array(5).fill('TIMEOUT'), 'the frozen worker answers nothing');
    // Longer than the short budgets plus the clock-skew tolerance (300 + 2,000 ms).
    await sleep(3_000);
    worker.signal('SIGCONT');
    assert.equal(await longLived, 'patient', 'a request still within its deadline is served after the thaw');
    assert.ok(
      await waitFor(() => beats.some((b) => b.expired >= 5), 10_000),
      `the 5 expired requests were skipped and counted: ${JSON.stringify(beats.at(-1))}`,
    );
    const last = beats.at(-1)!;
    assert.equal(last.expired, 5);
    assert.equal(last.ok, 2, 'served: the warm-up and the patient call, none of the expired ones');
  } finally {
    await watcher.close();
  }
});
