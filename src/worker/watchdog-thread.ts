/**
 * The watchdog thread of a worker process. It publishes the worker's heartbeats on its own NATS
 * connection, off the main event loop, so a worker whose handlers keep the CPU busy still
 * heartbeats; and it watches the main loop's progress counter: a loop blocked beyond the exit
 * threshold makes the whole process exit, so the broker drops its connection at once instead of
 * routing more requests into a process that will never answer them.
 */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { openConnection, type ConnectionOptions } from '../connection/options.js';
import { encode } from '../protocol/codec.js';
import type { WorkerHeartbeat } from '../protocol/heartbeat.js';
import type { HeartbeatBody } from './heartbeat-source.js';

export interface WatchdogData {
  subject: string;
  intervalMs: number;
  /** Exit when the main loop makes no progress for this long; 0 never exits. */
  exitAfterMs: number;
  /** Main loop progress: epoch ms in slot 0, written by the main thread. */
  progress: SharedArrayBuffer;
  connection: ConnectionOptions;
  first: HeartbeatBody;
}

export type ToThread =
  | { type: 'snapshot'; body: HeartbeatBody }
  | { type: 'early'; body: HeartbeatBody }
  | { type: 'final'; body: HeartbeatBody; reason: string };
export type FromThread =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'collect' }
  | { type: 'closed' }
  | { type: 'error'; message: string };

/** How often the thread looks at the main loop's progress. */
const CHECK_MS = 100;
/** A gap this long in the thread's own checks means the whole process was suspended (SIGSTOP), not blocked. */
const SUSPENDED_GAP_MS = 1_000;
/** How long a heartbeat waits for a fresh snapshot from the main thread before using the last one. */
const COLLECT_WAIT_FRACTION = 0.25;
const JITTER = 0.1;

const data = workerData as WatchdogData;
const port = parentPort!;
const progress = new Float64Array(data.progress);
let latest: HeartbeatBody = data.first;
let seq = 0;
let lastCheck = Date.now();
let resumedAt = 0;
let closing = false;
let collectWaiter: (() => void) | null = null;

function post(msg: FromThread): void {
  port.postMessage(msg);
}

/**
 * Notes one of the thread's own checks at `now`. A gap longer than {@link SUSPENDED_GAP_MS} since
 * the last one means the whole process was suspended (SIGSTOP, a paused VM), not that the main
 * loop blocked: progress is then counted from now.
 */
function checked(now: number): void {
  if (now - lastCheck > SUSPENDED_GAP_MS) resumedAt = now;
  lastCheck = now;
}

function stalledMs(now: number): number {
  // An aligned 8-byte read is not torn on the 64-bit platforms Node supports; a stale value only
  // delays detection by one tick.
  const last = Math.max(progress[0]!, resumedAt);
  return Math.max(0, Math.round(now - last));
}

// A worker whose heartbeats cannot get out is invisible to the supervisor: the start fails instead.
const nc = await openConnection({ ...data.connection }).catch((err: Error) => {
  post({ type: 'failed', message: `heartbeat connection failed: ${err.message}` });
  return null;
});

function publish(body: HeartbeatBody, extra: Partial<WorkerHeartbeat> = {}): void {
  if (nc === null || nc.isClosed()) return;
  const now = Date.now();
  // The first heartbeat after a suspension may go out before the next check: it must not report
  // the suspension as a stall either.
  checked(now);
  const hb: WorkerHeartbeat = { ...body, seq: ++seq, ts: now, stalledMs: stalledMs(now), ...extra };
  try {
    nc.publish(data.subject, encode(hb));
  } catch (err) {
    post({ type: 'error', message: `heartbeat not sent: ${(err as Error).message}` });
  }
}

async function beat(): Promise<void> {
  if (closing) return;
  // Ask the main thread for fresh figures, but never wait long: a busy or blocked main loop
  // must not delay the heartbeat that says the process is alive.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.max(10, data.intervalMs * COLLECT_WAIT_FRACTION));
    collectWaiter = () => {
      clearTimeout(timer);
      resolve();
    };
    post({ type: 'collect' });
  });
  collectWaiter = null;
  if (closing) return;
  publish(latest);
  const next = data.intervalMs * (1 - JITTER + Math.random() * 2 * JITTER);
  setTimeout(() => void beat(), next);
}

function watch(): void {
  const now = Date.now();
  checked(now);
  const stalled = stalledMs(now);
  if (data.exitAfterMs > 0 && stalled > data.exitAfterMs && !closing) {
    closing = true;
    const reason = `watchdog: main event loop blocked for ${stalled} ms (limit ${data.exitAfterMs} ms)`;
    writeSync(2, JSON.stringify({ level: 50, time: now, pid: process.pid, name: 'natsrpc-watchdog', msg: 'watchdog exit', reason }) + '\n');
    publish(latest, { final: true, exitReason: reason });
    const kill = () => process.kill(process.pid, 'SIGKILL');
    setTimeout(kill, 500).unref();
    void nc?.flush().then(kill, kill);
    return;
  }
  setTimeout(watch, CHECK_MS);
}

port.on('message', (msg: ToThread) => {
  if (msg.type === 'snapshot') {
    latest = msg.body;
    collectWaiter?.();
  } else if (msg.type === 'early') {
    latest = msg.body;
    if (!closing) publish(latest, { early: true });
  } else if (msg.type === 'final') {
    closing = true;
    publish(msg.body, { final: true, exitReason: msg.reason });
    const done = () => post({ type: 'closed' });
    if (nc === null) done();
    else void nc.flush().then(() => nc.close()).then(done, done);
  }
});

if (nc !== null) {
  publish(latest);
  post({ type: 'ready' });
  setTimeout(() => void beat(), data.intervalMs * (1 - JITTER + Math.random() * 2 * JITTER));
  setTimeout(watch, CHECK_MS);
}
