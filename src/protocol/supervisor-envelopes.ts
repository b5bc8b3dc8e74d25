/**
 * What the supervisor publishes: its heartbeat (election state and the per-service deadline
 * policy), decision events, and the status reply. docs/protocol.md, section "Supervisor", is the
 * normative description.
 */
import { isBoundedInt, isOptional, isRecord, isShortString, MAX_SAFE } from './fields.js';
import { MAX_BUDGET_MS, PROTOCOL_VERSION } from './envelope.js';
import { checkName } from './subjects.js';

/** Timeout policy of one service: what a call gets when it names none, and the most it may ask. */
export interface DeadlinePolicy {
  defaultMs: number;
  maxMs: number;
}

export interface SupervisorHeartbeat {
  v: typeof PROTOCOL_VERSION;
  id: string;
  /** When this supervisor started (ms since the epoch): the election key, oldest first. */
  startedAt: number;
  ts: number;
  intervalMs: number;
  /** Whether this supervisor considers itself the leader. */
  leader: boolean;
  /** Deadline policy by service; `*` applies to services not named. */
  deadlines: Record<string, DeadlinePolicy>;
  /** The health policy in force, for operators (free-form map, not validated beyond being a map). */
  policy?: Record<string, unknown>;
  /** `<public key>.<signature>` when the supervisor signs (docs/protocol.md, *Signed supervisor messages*). */
  sig?: string;
}

export const EVENT_KINDS = ['joined', 'drain', 'resume', 'shutdown', 'lost', 'returned', 'forgotten', 'leader', 'withheld', 'command-failed'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface SupervisorEvent {
  v: typeof PROTOCOL_VERSION;
  ts: number;
  /** Id of the supervisor that decided. */
  supervisor: string;
  kind: EventKind;
  service: string;
  workerId?: string;
  reason: string;
  /** Stable code of the reason (`consecutive_faults`, `heartbeat_silence`...): what programs and metric labels read. */
  code?: string;
  /** `drain`, `shutdown`: the ejection's period remaining at `ts`, in ms (a duration, so no clock of another host is read). */
  ejectionMs?: number;
  /** `drain`, `shutdown`: the nth ejection of this worker within the window. */
  ejection?: number;
  /** The figures behind the decision (rates, counts, thresholds), for operators. */
  figures?: Record<string, unknown>;
  /** `<public key>.<signature>` when the supervisor signs (docs/protocol.md, *Signed supervisor messages*). */
  sig?: string;
}

/** A reason code: lower-case letters, digits and underscores. */
export const REASON_CODE = /^[a-z][a-z0-9_]{0,63}$/;
/** Longest ejection an event may announce, in ms (the health policy's cap of maxEjectionMs). */
export const MAX_EVENT_EJECTION_MS = 86_400_000;

export const MAX_DEADLINE_ENTRIES = 1_024;

export function checkDeadlinePolicy(value: unknown): string | null {
  if (!isRecord(value)) return 'deadline policy is not a map';
  if (!isBoundedInt(value.defaultMs, 1, MAX_BUDGET_MS) || !isBoundedInt(value.maxMs, 1, MAX_BUDGET_MS)) return 'invalid defaultMs or maxMs';
  if (value.defaultMs > value.maxMs) return 'defaultMs above maxMs';
  return null;
}

/** Returns `null` when `value` is a valid supervisor heartbeat, else the reason. */
export function checkSupervisorHeartbeat(value: unknown): string | null {
  if (!isRecord(value)) return 'heartbeat is not a map';
  if (value.v !== PROTOCOL_VERSION) return `unsupported protocol version ${String(value.v)}`;
  if (!isShortString(value.id, 128, 1)) return 'invalid id';
  if (!isBoundedInt(value.startedAt, 0, MAX_SAFE) || !isBoundedInt(value.ts, 0, MAX_SAFE)) return 'invalid startedAt or ts';
  if (!isBoundedInt(value.intervalMs, 1, 3_600_000)) return 'invalid intervalMs';
  if (typeof value.leader !== 'boolean') return 'invalid leader';
  if (!isRecord(value.deadlines)) return 'invalid deadlines';
  let n = 0;
  for (const service in value.deadlines) {
    if (++n > MAX_DEADLINE_ENTRIES) return 'too many deadline entries';
    if (service !== '*' && checkName(service) !== null) return 'invalid service in deadlines';
    const reason = checkDeadlinePolicy(value.deadlines[service]);
    if (reason !== null) return `deadlines.${service}: ${reason}`;
  }
  if (!isOptional(value.policy) && !isRecord(value.policy)) return 'invalid policy';
  if (!isOptional(value.sig) && !isShortString(value.sig, 1_024)) return 'invalid sig';
  return null;
}

/** Returns `null` when `value` looks like a status reply (a map with `v` and a `services` array). */
export function checkStatusReply(value: unknown): string | null {
  if (!isRecord(value)) return 'status is not a map';
  if (value.v !== PROTOCOL_VERSION) return `unsupported protocol version ${String(value.v)}`;
  if (!isRecord(value.supervisor) || !Array.isArray(value.services)) return 'invalid status';
  return null;
}

/** Returns `null` when `value` is a valid supervisor event, else the reason. */
export function checkSupervisorEvent(value: unknown): string | null {
  if (!isRecord(value)) return 'event is not a map';
  if (value.v !== PROTOCOL_VERSION) return `unsupported protocol version ${String(value.v)}`;
  if (!isBoundedInt(value.ts, 0, MAX_SAFE)) return 'invalid ts';
  if (!isShortString(value.supervisor, 128, 1)) return 'invalid supervisor';
  if (!(EVENT_KINDS as readonly unknown[]).includes(value.kind)) return 'invalid kind';
  if (!isShortString(value.service, 64, 1)) return 'invalid service';
  if (!isOptional(value.workerId) && !isShortString(value.workerId, 128, 1)) return 'invalid workerId';
  if (!isShortString(value.reason, 4_096)) return 'invalid reason';
  if (!isOptional(value.code) && !(typeof value.code === 'string' && REASON_CODE.test(value.code))) return 'invalid code';
  if (!isOptional(value.ejectionMs) && !isBoundedInt(value.ejectionMs, 0, MAX_EVENT_EJECTION_MS)) return 'invalid ejectionMs';
  if (!isOptional(value.ejection) && !isBoundedInt(value.ejection, 1, 1_000_000)) return 'invalid ejection';
  if (!isOptional(value.figures) && !isRecord(value.figures)) return 'invalid figures';
  if (!isOptional(value.sig) && !isShortString(value.sig, 1_024)) return 'invalid sig';
  return null;
}
