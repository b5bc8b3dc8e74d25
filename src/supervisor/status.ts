/**
 * The status reply: the registry as operators see it, per service. Pure.
 */
import { PROTOCOL_VERSION } from '../protocol/envelope.js';
import type { DeadlinePolicy } from '../protocol/supervisor-envelopes.js';
import { ejectionEnd } from './ejection.js';
import type { HealthPolicy } from './policy.js';
import type { WorkerRecord } from './registry.js';

/** Workers listed in one status reply at most. */
export const MAX_STATUS_WORKERS = 2_000;
/** Bytes of one encoded status reply at most: well under the broker's default max_payload (1 MiB). */
export const MAX_STATUS_BYTES = 512 * 1024;
/** Room kept in {@link MAX_STATUS_BYTES} for everything but the workers (supervisor, policy, services). */
const STATUS_OVERHEAD_BYTES = 64 * 1024;

export interface WorkerStatus {
  id: string;
  host: string;
  pid: number;
  version: string;
  state: string;
  /** `healthy`, `unhealthy`, `ejected`, `lost` or `stopped`. */
  health: string;
  reasons: string[];
  /** The stable code of each reason, in the same order. */
  reasonCodes: string[];
  inFlight: number;
  concurrency: number;
  callsPerSec: number;
  p99Ms: number;
  /** Worker-fault failures since start (INTERNAL and overruns). */
  errors: number;
  /** Failed calls by code since start. */
  failed: Record<string, number>;
  heartbeatAgeMs: number;
  lastDrainReason: string | null;
  ejectedUntil: number | null;
  ejections: number;
  serverId: string;
  clientId: number;
  /** What the broker said of its connection: `verified`, `refuted` or `unchecked` (see member-check.ts). */
  member: string;
}

export interface ServiceStatus {
  service: string;
  deadline: DeadlinePolicy | null;
  workers: WorkerStatus[];
}

export interface StatusReply {
  v: typeof PROTOCOL_VERSION;
  ts: number;
  supervisor: { id: string; leader: boolean; leaderId: string; startedAt: number; intervalMs: number };
  policy: HealthPolicy;
  services: ServiceStatus[];
  truncated: boolean;
}

function healthOf(rec: WorkerRecord, policy: HealthPolicy): string {
  if (rec.hb.state === 'stopped' || rec.hb.final === true) return 'stopped';
  if (rec.lost) return 'lost';
  if (ejectionEnd(rec, policy) !== null) return 'ejected';
  if (rec.health !== null && !rec.health.healthy) return 'unhealthy';
  return 'healthy';
}

function workerStatus(rec: WorkerRecord, now: number, policy: HealthPolicy): WorkerStatus {
  const hb = rec.hb;
  return {
    id: rec.id,
    host: hb.host,
    pid: hb.pid,
    version: hb.version,
    state: rec.lost ? 'lost' : hb.state,
    health: healthOf(rec, policy),
    reasons: rec.health?.reasons ?? [],
    reasonCodes: rec.health?.codes ?? [],
    inFlight: hb.inFlight,
    concurrency: hb.concurrency,
    callsPerSec: Math.round(rec.callsPerSec * 10) / 10,
    p99Ms: Math.round(hb.p99Ms * 100) / 100,
    errors: (hb.failed.INTERNAL ?? 0) + hb.overruns,
    failed: hb.failed,
    heartbeatAgeMs: Math.max(0, now - rec.lastSeen),
    lastDrainReason: rec.lastDrainReason,
    ejectedUntil: ejectionEnd(rec, policy),
    ejections: rec.ejections.length,
    serverId: hb.serverId,
    clientId: hb.clientId,
    member: rec.member,
  };
}

/**
 * The status of `records`, bounded: at most {@link MAX_STATUS_WORKERS} workers and
 * {@link MAX_STATUS_BYTES} encoded, taken from every service in turn (verified members first), so
 * a flood under one service never hides another's workers; `truncated` says some were left out.
 * `sizeOf` is the encoded size of one worker entry.
 */
export function buildStatus(
  records: Iterable<WorkerRecord>,
  now: number,
  supervisor: StatusReply['supervisor'],
  policy: HealthPolicy,
  deadlines: Record<string, DeadlinePolicy>,
  sizeOf: (w: WorkerStatus) => number = () => 0,
): StatusReply {
  const byService = new Map<string, WorkerRecord[]>();
  for (const rec of records) {
    let list = byService.get(rec.service);
    if (list === undefined) byService.set(rec.service, (list = []));
    list.push(rec);
  }
  const rank = (r: WorkerRecord) => (r.member === 'verified' ? 0 : r.member === 'unchecked' ? 1 : 2);
  const queues = [...byService.values()].map((list) => list.sort((a, b) => rank(a) - rank(b) || (a.id < b.id ? -1 : 1)));
  const services = new Map<string, ServiceStatus>();
  let count = 0;
  let bytes = STATUS_OVERHEAD_BYTES;
  let truncated = false;
  for (let i = 0; !truncated && queues.some((q) => i < q.length); i++) {
    for (const q of queues) {
      const rec = q[i];
      if (rec === undefined) continue;
      const entry = workerStatus(rec, now, policy);
      bytes += sizeOf(entry);
      if (++count > MAX_STATUS_WORKERS || bytes > MAX_STATUS_BYTES) {
        truncated = true;
        break;
      }
      let svc = services.get(rec.service);
      if (svc === undefined) {
        svc = { service: rec.service, deadline: deadlines[rec.service] ?? deadlines['*'] ?? null, workers: [] };
        services.set(rec.service, svc);
      }
      svc.workers.push(entry);
    }
  }
  const list = [...services.values()].sort((a, b) => a.service.localeCompare(b.service));
  for (const s of list) s.workers.sort((a, b) => a.id.localeCompare(b.id));
  return { v: PROTOCOL_VERSION, ts: now, supervisor, policy, services: list, truncated };
}
