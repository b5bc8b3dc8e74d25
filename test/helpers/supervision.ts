/**
 * Helpers for supervisor tests: ward workers with their own mode directory, supervisor processes,
 * and recorders of heartbeats and events on the broker.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { decodeChecked } from '../../src/protocol/codec.js';
import { checkHeartbeat, type WorkerHeartbeat } from '../../src/protocol/heartbeat.js';
import type { SupervisorEvent } from '../../src/protocol/supervisor-envelopes.js';
import type { StatusReply } from '../../src/supervisor/status.js';
import { RpcError, type RpcClient } from '../../src/index.js';
import { ROOT, spawnWorker, ChildHandle, workerIdOf } from './processes.js';
import { waitFor } from './load.js';

/** The broker configuration shipped in the repo (fast cut of frozen clients). */
export const BROKER_CONFIG = join(ROOT, 'config/nats-server.conf');
/**
 * Heartbeat and supervisor interval used by the tests: short so the suite is fast, long enough
 * that a loaded 2-core machine does not make heartbeats late by whole intervals.
 */
export const INTERVAL_MS = 500;

export interface Ward {
  handle: ChildHandle;
  id: string;
  dir: string;
  setMode(mode: 'ok' | 'fail' | 'business' | 'hang' | 'block' | 'busy'): void;
  /** Makes its health check pass or fail. */
  setHealthy(healthy: boolean): void;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function spawnWard(url: string, args: string[] = [], mode = 'ok'): Promise<Ward> {
  const dir = mkdtempSync(join(tmpdir(), 'natsrpc-ward-'));
  writeFileSync(join(dir, 'mode'), mode);
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let handle: ChildHandle;
  try {
    handle = await spawnWorker('test/fixtures/ward.ts', url, ['--heartbeat', String(INTERVAL_MS), ...args], { WARD_DIR: dir, WARD_BUSY_MS: String(4 * INTERVAL_MS) });
  } catch (err) {
    removeDir();
    throw err;
  }
  return {
    handle,
    id: workerIdOf(handle),
    dir,
    setMode: (m) => writeFileSync(join(dir, 'mode'), m),
    setHealthy: (healthy) => (healthy ? rmSync(join(dir, 'unhealthy'), { force: true }) : writeFileSync(join(dir, 'unhealthy'), '')),
    [Symbol.asyncDispose]: async () => {
      await handle[Symbol.asyncDispose]();
      removeDir();
    },
  };
}

/** Starts `natsrpc supervisor` with a health policy and resolves once it listens; `id` is its supervisor id. */
export async function spawnSupervisor(url: string, policy: Record<string, number> = {}, args: string[] = []): Promise<ChildHandle & { id: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'natsrpc-sup-'));
  const file = join(dir, 'policy.json');
  writeFileSync(file, JSON.stringify(policy));
  const handle = new ChildHandle(['supervisor', '--servers', url, '--interval', String(INTERVAL_MS), '--policy', file, ...args]);
  const stop = handle[Symbol.asyncDispose].bind(handle);
  const dispose = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const line = await handle.waitForLine(/"msg":"supervisor ready"/);
    return Object.assign(handle, { id: (JSON.parse(line) as { supervisorId: string }).supervisorId, [Symbol.asyncDispose]: dispose });
  } catch (err) {
    await dispose();
    throw err;
  }
}

function tryDecode(data: Uint8Array): unknown {
  try {
    return decodeChecked(data);
  } catch {
    return null;
  }
}

export interface Seen<T> {
  at: number;
  value: T;
}

/** Records heartbeats and supervisor events as they arrive, with local receipt times. */
export class Recorder {
  readonly heartbeats: Seen<WorkerHeartbeat>[] = [];
  readonly events: Seen<SupervisorEvent>[] = [];
  private constructor(readonly nc: NatsConnection) {}

  static async start(url: string): Promise<Recorder> {
    const nc = await connect({ servers: url });
    const r = new Recorder(nc);
    // Tests publish malformed heartbeats on purpose: keep what decodes and is valid.
    nc.subscribe('rpc._hb.>', {
      callback: (_e, m) => {
        const value = tryDecode(m.data);
        if (checkHeartbeat(value) === null) r.heartbeats.push({ at: Date.now(), value: value as WorkerHeartbeat });
      },
    });
    nc.subscribe('rpc._evt.>', { callback: (_e, m) => r.events.push({ at: Date.now(), value: tryDecode(m.data) as SupervisorEvent }) });
    await nc.flush();
    return r;
  }

  beatsOf(id: string): Seen<WorkerHeartbeat>[] {
    return this.heartbeats.filter((h) => h.value.id === id);
  }

  eventsOf(kind: string, workerId?: string, supervisor?: string): Seen<SupervisorEvent>[] {
    return this.events.filter(
      (e) => e.value?.kind === kind && (workerId === undefined || e.value.workerId === workerId) && (supervisor === undefined || e.value.supervisor === supervisor),
    );
  }

  async waitEvent(kind: string, workerId: string | undefined, timeoutMs: number, supervisor?: string): Promise<Seen<SupervisorEvent> | undefined> {
    await waitFor(() => this.eventsOf(kind, workerId, supervisor).length > 0, timeoutMs);
    return this.eventsOf(kind, workerId, supervisor)[0];
  }

  async status(): Promise<StatusReply> {
    const reply = await this.nc.request('rpc._sup.status', new Uint8Array(0), { timeout: 2_000 });
    return decodeChecked(reply.data) as StatusReply;
  }

  /**
   * Waits until the leading supervisor lists `n` workers of `service` as serving and healthy. The
   * default wait outlasts the slowest heartbeat interval the tests use (10 s): a supervisor started
   * after its workers first hears of each at that worker's next heartbeat.
   */
  async waitServing(service: string, n: number, timeoutMs = 25_000): Promise<boolean> {
    return waitFor(async () => {
      try {
        const s = await this.status();
        const svc = s.services.find((x) => x.service === service);
        return svc !== undefined && svc.workers.filter((w) => w.state === 'serving' && w.health === 'healthy').length === n;
      } catch {
        return false;
      }
    }, timeoutMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.nc.close();
  }
}

/** A closed-loop load that records, for each call, when it was sent and how it ended. */
export function timedLoad(client: RpcClient, concurrency: number, timeoutMs: number, maxDurationMs: number) {
  const calls: { sentAt: number; endedAt: number; code: string | null; pid?: number }[] = [];
  let stopped = false;
  const until = Date.now() + maxDurationMs;
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped && Date.now() < until && calls.length < 200_000) {
      const sentAt = Date.now();
      try {
        const r = await client.call<{ pid: number }>('ward.work', null, { timeoutMs });
        calls.push({ sentAt, endedAt: Date.now(), code: null, pid: r.pid });
      } catch (err) {
        if (!(err instanceof RpcError)) throw err;
        calls.push({ sentAt, endedAt: Date.now(), code: err.code });
      }
    }
  });
  return {
    calls,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return calls;
    },
  };
}
