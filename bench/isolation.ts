/**
 * Isolation time: how long a worker that fails every call keeps getting calls. 4 worker processes
 * (default 1 s heartbeats) under a supervisor (default policy and 1 s interval), 8 closed-loop
 * callers; after a second of healthy load, one worker starts failing every call (INTERNAL). Reports
 * the time from the first failed call to the last, and their number, for each of 3 runs (fresh
 * processes each time). Every figure depends on the machine's load: run it on a quiet machine, or
 * read the range.
 *
 *   node --import tsx bench/isolation.ts [runs, default 3]
 */
import { connect as natsConnect } from 'nats';
import { LocalNatsServer } from '../src/broker/local-server.js';
import { connect, RpcError } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { decodeChecked } from '../src/protocol/codec.js';
import { statusSubject } from '../src/protocol/subjects.js';
import type { StatusReply } from '../src/supervisor/status.js';
import { BenchChild, stopAll } from './lib/ipc.js';

const WORKERS = 4;
const CALLERS = 8;
const TIMEOUT_MS = 2_000;
const HEALTHY_MS = 1_000;
const AFTER_MS = 3_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface IsolationRun {
  failed: number;
  firstToLastMs: number;
  /** From the `fail` command to the first failed call. */
  onsetMs: number;
  calls: number;
  failingWorkerState: string;
}

async function waitServing(url: string, service: string, n: number, timeoutMs = 20_000): Promise<void> {
  const nc = await natsConnect({ servers: url });
  try {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      try {
        const reply = await nc.request(statusSubject('rpc'), new Uint8Array(0), { timeout: 1_000 });
        const status = decodeChecked(reply.data) as StatusReply;
        const svc = status.services.find((s) => s.service === service);
        if (svc !== undefined && svc.workers.filter((w) => w.state === 'serving' && w.health === 'healthy').length === n) return;
      } catch {
        // no leader yet
      }
      await sleep(100);
    }
    throw new Error(`the supervisor did not list ${n} serving workers of ${service} within ${timeoutMs} ms`);
  } finally {
    await nc.close();
  }
}

async function runOnce(url: string, round: number): Promise<IsolationRun> {
  const service = `iso${round}`;
  await using sup = new BenchChild('supervisor.ts', { url });
  await sup.ready;
  const workers = Array.from({ length: WORKERS }, () => new BenchChild('failing-worker.ts', { url, service }));
  try {
    await Promise.all(workers.map((w) => w.ready));
    await waitServing(url, service, WORKERS);
    const client = await connect({ servers: url, logger: createLogger('bench-isolation', 'silent') });
    const failures: number[] = [];
    let calls = 0;
    let stop = false;
    const loops = Array.from({ length: CALLERS }, async () => {
      while (!stop) {
        try {
          await client.call(`${service}.work`, null, { timeoutMs: TIMEOUT_MS });
        } catch (err) {
          if (!(err instanceof RpcError)) throw err;
          failures.push(performance.now());
        }
        calls++;
      }
    });
    await sleep(HEALTHY_MS);
    const failAt = performance.now();
    await workers[0]!.request('fail');
    await sleep(AFTER_MS);
    stop = true;
    await Promise.all(loops);
    await client.close();
    const state = await workers[0]!.request<string>('state');
    const first = failures[0] ?? NaN;
    const last = failures[failures.length - 1] ?? NaN;
    return { failed: failures.length, firstToLastMs: last - first, onsetMs: first - failAt, calls, failingWorkerState: state };
  } finally {
    await stopAll(workers);
  }
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  await using nats = await LocalNatsServer.start({});
  const results: IsolationRun[] = [];
  for (let r = 0; r < runs; r++) {
    const run = await runOnce(nats.url, r);
    results.push(run);
    process.stdout.write(`run ${r + 1}: ${run.failed} failed calls, first to last ${run.firstToLastMs.toFixed(0)} ms (first failure ${run.onsetMs.toFixed(0)} ms after the fault began; ${run.calls} calls; the failing worker ends ${run.failingWorkerState})\n`);
  }
  const spans = results.map((r) => r.firstToLastMs);
  const counts = results.map((r) => r.failed);
  process.stdout.write(`isolation: first to last failed call ${Math.min(...spans).toFixed(0)}-${Math.max(...spans).toFixed(0)} ms, ${Math.min(...counts)}-${Math.max(...counts)} failed calls (${WORKERS} workers, 1 failing every call, ${CALLERS} callers, ${runs} runs)\n`);
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
