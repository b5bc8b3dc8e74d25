/**
 * The status reply: the registry as operators see it, per service. Pure.
 */
import { PROTOCOL_VERSION } from '../protocol/envelope.js';
import type { DeadlinePolicy } from '../protocol/supervisor-envelopes.js';
import { ejectionEnd } from './ejection.js';
import type { HealthPolicy } from './policy.js';
import type { WorkerRecord } from './registry.js';

/** Workers listed in one status reply at most, so it stays well under the broker's max_payload. */
export const MAX_STATUS_WORKERS = 2_000;

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

export function buildStatus(
  records: Iterable<WorkerRecord>,
  now: number,
  supervisor: StatusReply['supervisor'],
  policy: HealthPolicy,
  deadlines: Record<string, DeadlinePolicy>,
): StatusReply {
  const services = new Map<string, ServiceStatus>();
  let count = 0;
  let truncated = false;
  for (const rec of records) {
    if (++count > MAX_STATUS_WORKERS) {
      truncated = true;
      break;
    }
    let svc = services.get(rec.service);
    if (svc === undefined) {
      svc = { service: rec.service, deadline: deadlines[rec.service] ?? deadlines['*'] ?? null, workers: [] };
      services.set(rec.service, svc);
    }
    const hb = rec.hb;
    svc.workers.push({
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
    });
  }
  const list = [...services.values()].sort((a, b) => a.service.localeCompare(b.service));
  for (const s of list) s.workers.sort((a, b) => a.id.localeCompare(b.id));
  return { v: PROTOCOL_VERSION, ts: now, supervisor, policy, services: list, truncated };
}
