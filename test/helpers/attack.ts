/**
 * Helpers for the adversarial supervision tests (test/attack-*.test.ts): a broker from the shipped
 * configuration (config/nats/cluster.conf + accounts.conf, one node), workers and a supervisor
 * under their shipped identities, an attacker holding one identity, and an observer that reads
 * fleet events and status as a caller does.
 */
import { readFileSync } from 'node:fs';
import { connect, type NatsConnection } from 'nats';
import { decodeChecked, encode } from '../../src/protocol/codec.js';
import type { WorkerHeartbeat } from '../../src/protocol/heartbeat.js';
import type { SupervisorEvent } from '../../src/protocol/supervisor-envelopes.js';
import type { StatusReply } from '../../src/supervisor/status.js';
import { identity, startSingleNode, TEST_PASSWORDS } from './cluster.js';
import { spawnWorker, workerIdOf, type ChildHandle } from './processes.js';
import { INTERVAL_MS, spawnSupervisor } from './supervision.js';
import { waitFor } from './load.js';

export { startSingleNode as startShippedBroker };

/** A permission violation the broker reports to a connection. */
export interface Violation {
  operation: string;
  subject: string;
}

/** Collects, as they come, the permission violations the broker reports to `nc`, kept and mapped by `pick`. */
function watchViolations<T>(nc: NatsConnection, pick: (v: Violation) => T | undefined): T[] {
  const seen: T[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      const ctx = (s as { permissionContext?: Violation }).permissionContext;
      if (s.type !== 'error' || ctx === undefined) continue;
      const kept = pick(ctx);
      if (kept !== undefined) seen.push(kept);
    }
  })();
  return seen;
}

/** Every permission violation the broker reports to `nc`. */
export function permissionViolations(nc: NatsConnection): Violation[] {
  return watchViolations(nc, (v) => v);
}

/** The subjects whose subscription the broker refuses to `nc`. */
export function refusedSubscriptions(nc: NatsConnection): string[] {
  return watchViolations(nc, (v) => (v.operation === 'subscription' ? v.subject : undefined));
}

/** Environment of a worker process under the shipped identity of its service. */
export function serviceEnv(service: 'math' | 'echo' | 'slow'): Record<string, string> {
  return { NATS_USER: service, NATS_PASS: TEST_PASSWORDS[`NATS_${service.toUpperCase()}_PASS` as keyof typeof TEST_PASSWORDS] };
}

/** `natsrpc worker workers/<service>.ts` under its shipped identity, heartbeating every INTERVAL_MS. */
export async function spawnServiceWorker(url: string, service: 'math' | 'echo' | 'slow'): Promise<ChildHandle & { id: string }> {
  const handle = await spawnWorker(`workers/${service}.ts`, url, ['--heartbeat', String(INTERVAL_MS)], serviceEnv(service));
  return Object.assign(handle, { id: workerIdOf(handle) });
}

/** Flags of `natsrpc supervisor` under the shipped supervisor identity, with the system account for fencing and member checks. */
export function supervisorFlags(fencing = true): string[] {
  const own = ['--user', 'supervisor', '--pass', TEST_PASSWORDS.NATS_SUPERVISOR_PASS, '--inbox-prefix', '_INBOX_supervisor'];
  return fencing ? [...own, '--sys-user', 'sys', '--sys-pass', TEST_PASSWORDS.NATS_SYS_PASS] : own;
}

export async function spawnShippedSupervisor(url: string, policy: Record<string, number> = {}, fencing = true): Promise<ChildHandle & { id: string }> {
  return spawnSupervisor(url, policy, supervisorFlags(fencing));
}

/** A connection under a shipped identity, closed with `await using`. */
export async function connectAs(url: string, who: Parameters<typeof identity>[0], name?: string): Promise<NatsConnection & AsyncDisposable> {
  const nc = await connect({ servers: url, ...identity(who), ...(name === undefined ? {} : { name }) });
  return Object.assign(nc, { [Symbol.asyncDispose]: async () => void (await nc.close()) });
}

/** Reads fleet events and asks for status as a caller does (the shipped `caller` identity). */
export class Observer {
  readonly events: { at: number; value: SupervisorEvent }[] = [];
  private constructor(readonly nc: NatsConnection) {}

  static async start(url: string, who: Parameters<typeof identity>[0] = 'caller'): Promise<Observer> {
    const nc = await connect({ servers: url, ...identity(who) });
    const o = new Observer(nc);
    nc.subscribe('rpc._evt.>', {
      callback: (_e, m) => {
        try {
          o.events.push({ at: Date.now(), value: decodeChecked(m.data) as SupervisorEvent });
        } catch {
          // forged garbage: not an event
        }
      },
    });
    await nc.flush();
    return o;
  }

  eventsOf(kind: string, workerId?: string): SupervisorEvent[] {
    return this.events.map((e) => e.value).filter((e) => e.kind === kind && (workerId === undefined || e.workerId === workerId));
  }

  async status(timeoutMs = 2_000): Promise<StatusReply> {
    const reply = await this.nc.request('rpc._sup.status', new Uint8Array(0), { timeout: timeoutMs });
    return decodeChecked(reply.data) as StatusReply;
  }

  /** Waits until the leader lists every id in `ids` as serving, healthy and verified by the broker. */
  async waitVerified(ids: string[], timeoutMs = 15_000): Promise<boolean> {
    return waitFor(async () => {
      try {
        const s = await this.status();
        const workers = s.services.flatMap((svc) => svc.workers);
        return ids.every((id) => workers.some((w) => w.id === id && w.state === 'serving' && w.health === 'healthy' && w.member === 'verified'));
      } catch {
        return false;
      }
    }, timeoutMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.nc.close();
  }
}

/** A heartbeat of worker `id` of `service` with every figure healthy; `over` changes any of them. */
export function forgedHeartbeat(service: string, id: string, over: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat {
  const now = Date.now();
  return {
    v: 1, id, service, version: '1.0.0', host: 'attacker', pid: 1, serverId: '', clientId: 0, state: 'serving', seq: 1, ts: now, startedAt: now,
    intervalMs: INTERVAL_MS, inFlight: 0, concurrency: 64, received: 0, ok: 0, failed: {}, expired: 0, overruns: 0, consecutiveFaults: 0,
    p50Ms: 1, p99Ms: 1, loopDelayP99Ms: 1, stalledMs: 0, rssBytes: 1, overdue: 0, healthy: null, ...over,
  };
}

export function publishHeartbeat(nc: NatsConnection, hb: WorkerHeartbeat): void {
  nc.publish(`rpc._hb.${hb.service}.${hb.id}`, encode(hb));
}

/** Resident set size of process `pid` in bytes, and its CPU time (user + system) in ms, from /proc. */
export function processUsage(pid: number): { rssBytes: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssBytes: rssKb * 1024, cpuMs: (ticks * 1_000) / 100 };
}

/** Publishes `n` healthy heartbeats of made-up `service` workers, in batches, and flushes. */
export async function floodFakeMembers(nc: NatsConnection, service: string, n: number, seq = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    publishHeartbeat(nc, forgedHeartbeat(service, `${service}-flood${String(i).padStart(8, '0')}`, { seq, clientId: 1_000_000 + i, serverId: 'N'.repeat(56) }));
    if (i % 500 === 499) await nc.flush();
  }
  await nc.flush();
}
