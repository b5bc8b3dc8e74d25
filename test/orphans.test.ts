/**
 * Test processes leave no orphans: when the test runner kills a test file (a timeout, a failure),
 * the nats-server and worker processes its helpers started die with it, even on SIGKILL, which
 * runs no handler in the killed process (src/broker/child-watchdog.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ChildHandle, SCRIPT } from './helpers/processes.js';
import { sleep } from './helpers/load.js';

/** How long the children may take to be killed once their parent is gone. */
const GONE_WITHIN_MS = 10_000;

/**
 * No process with this PID runs any more. A killed orphan is reaped by the init process of its
 * namespace; until it is, it is a zombie (state Z), which runs nothing and holds no port.
 */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
    throw err;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // gone between the two looks
  }
}

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (gone(pid)) return true;
    await sleep(50);
  }
  return gone(pid);
}

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`a test process killed by ${signal} takes its nats-server and worker processes with it`, async () => {
    await using parent = new ChildHandle(['test/fixtures/spawning-parent.ts'], {}, SCRIPT);
    let pids: number[] = [];
    try {
      const started = JSON.parse(await parent.waitForLine(/"natsPid"/, 30_000)) as { natsPid: number; workerPid: number; watchdogPid: number };
      pids = [started.natsPid, started.workerPid, started.watchdogPid];
      for (const pid of pids) assert.ok(Number.isInteger(pid) && !gone(pid), `process ${pid} runs before its parent is killed`);

      parent.signal(signal);
      await parent.exited;
      for (const [name, pid] of [['nats-server', started.natsPid], ['worker', started.workerPid], ['watchdog', started.watchdogPid]] as const) {
        assert.ok(await goneWithin(pid, GONE_WITHIN_MS), `the ${name} (pid ${pid}) outlived its parent by ${GONE_WITHIN_MS} ms`);
      }
    } finally {
      // Whatever failed above: end what this test started, by PID.
      for (const pid of pids) {
        if (gone(pid)) continue;
        try {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
}
