/**
 * The worker heartbeat envelope and its validation. docs/protocol.md, section "Worker heartbeats",
 * is the normative description; keep the two in step.
 */
import { isBoundedInt, isBoundedNumber, isCounterMap, isOptional, isRecord, isShortString, MAX_SAFE } from './fields.js';
import { PROTOCOL_VERSION } from './envelope.js';
import { checkName, checkWorkerId } from './subjects.js';

export const WORKER_STATES = ['serving', 'draining', 'drained', 'stopped'] as const;
export type WorkerStateName = (typeof WORKER_STATES)[number];

export interface WorkerHeartbeat {
  v: typeof PROTOCOL_VERSION;
  /** Worker id (a subject token). */
  id: string;
  service: string;
  version: string;
  host: string;
  pid: number;
  /** The broker that holds the worker's serving connection (`server_id` of its INFO). */
  serverId: string;
  /** That connection's client id at the broker (`client_id`), e.g. to kick it. */
  clientId: number;
  state: WorkerStateName;
  /** Increments with every heartbeat of this worker. */
  seq: number;
  /** Sender's wall clock, ms since the epoch. */
  ts: number;
  startedAt: number;
  /** The worker's heartbeat interval in ms. */
  intervalMs: number;
  inFlight: number;
  concurrency: number;
  received: number;
  ok: number;
  /** Failed calls by code since start (business codes included). */
  failed: Record<string, number>;
  expired: number;
  overruns: number;
  /** Worker-fault failures (INTERNAL) since the last success or business rejection. */
  consecutiveFaults: number;
  p50Ms: number;
  p99Ms: number;
  /** Event-loop delay p99 over the last interval, in ms. */
  loopDelayP99Ms: number;
  /** Time since the main event loop last made progress, in ms. */
  stalledMs: number;
  rssBytes: number;
  /** Handlers running past their deadline right now. */
  overdue: number;
  /** Result of the user health check: true, false, or null when the worker defines none. */
  healthy: boolean | null;
  healthError?: string;
  /** Set on a heartbeat sent out of schedule: the state changed or a fault streak crossed a threshold. */
  early?: boolean;
  /** Set on the last heartbeat a worker sends, with why it exits. */
  final?: boolean;
  exitReason?: string;
}

/** Distinct codes a heartbeat's `failed` map may hold; a worker folds the rest into {@link OTHER_CODES}. */
export const MAX_FAILED_CODES = 64;
/** The `failed` key that counts codes beyond {@link MAX_FAILED_CODES}; no error code can look like it. */
export const OTHER_CODES = '_OTHER';
const MAX_TEXT = 256;

/** Returns `null` when `value` is a valid worker heartbeat, else the reason. */
export function checkHeartbeat(value: unknown): string | null {
  if (!isRecord(value)) return 'heartbeat is not a map';
  if (value.v !== PROTOCOL_VERSION) return `unsupported protocol version ${String(value.v)}`;
  if (checkWorkerId(value.id) !== null) return 'invalid id';
  if (checkName(value.service) !== null) return 'invalid service';
  if (!isShortString(value.version, 64) || !isShortString(value.host, MAX_TEXT) || !isShortString(value.serverId, MAX_TEXT)) {
    return 'invalid version, host or serverId';
  }
  if (!isBoundedInt(value.pid, 0, 2 ** 32) || !isBoundedInt(value.clientId, 0, MAX_SAFE)) return 'invalid pid or clientId';
  if (!(WORKER_STATES as readonly unknown[]).includes(value.state)) return 'invalid state';
  for (const key of ['seq', 'ts', 'startedAt', 'received', 'ok', 'expired', 'overruns', 'consecutiveFaults', 'rssBytes', 'stalledMs'] as const) {
    if (!isBoundedInt(value[key], 0, MAX_SAFE)) return `invalid ${key}`;
  }
  if (!isBoundedInt(value.intervalMs, 1, 3_600_000)) return 'invalid intervalMs';
  if (!isBoundedInt(value.concurrency, 1, 1_000_000) || !isBoundedInt(value.inFlight, 0, 1_000_000) || !isBoundedInt(value.overdue, 0, 1_000_000)) {
    return 'invalid inFlight, concurrency or overdue';
  }
  if (!isCounterMap(value.failed, MAX_FAILED_CODES)) return 'invalid failed';
  for (const key of ['p50Ms', 'p99Ms', 'loopDelayP99Ms'] as const) {
    if (!isBoundedNumber(value[key], 0, 1e9)) return `invalid ${key}`;
  }
  if (value.healthy !== null && typeof value.healthy !== 'boolean') return 'invalid healthy';
  if (!isOptional(value.healthError) && !isShortString(value.healthError, MAX_TEXT)) return 'invalid healthError';
  if (!isOptional(value.early) && typeof value.early !== 'boolean') return 'invalid early';
  if (!isOptional(value.final) && typeof value.final !== 'boolean') return 'invalid final';
  if (!isOptional(value.exitReason) && !isShortString(value.exitReason, MAX_TEXT)) return 'invalid exitReason';
  return null;
}
