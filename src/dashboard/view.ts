/**
 * The dashboard's JSON API shapes (`/api/fleet`, `/api/events`, `/api/stream`). docs/dashboard.md
 * documents them for other tools; keep the two in step.
 */
import type { DeadlinePolicy } from '../protocol/supervisor-envelopes.js';

export const FLEET_VIEW_VERSION = 1;

/** Lifecycle of a worker as the page shows it. `lost`: no heartbeat for 3 of its intervals. */
export type WorkerState = 'serving' | 'draining' | 'drained' | 'stopped' | 'lost';

export interface WorkerView {
  id: string;
  service: string;
  host: string;
  pid: number;
  version: string;
  state: WorkerState;
  /** The leading supervisor's verdict (`healthy`, `unhealthy`, `ejected`, `lost`, `stopped`), or null without one. */
  health: string | null;
  /** Why the supervisor finds it unhealthy right now. */
  reasons: string[];
  /** Why it was last drained (supervisor status or the last drain event). */
  drainReason: string | null;
  ejectedUntil: number | null;
  ejections: number;
  callsPerSec: number;
  /** Failed calls per second by error code over the last heartbeat interval. */
  errorsPerSec: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  inFlight: number;
  concurrency: number;
  loopDelayMs: number;
  rssBytes: number;
  healthError: string | null;
  /** Age of its last heartbeat at the time of the view. */
  heartbeatAgeMs: number;
  /** What the figures come from: its own heartbeats, or only the supervisor's status. */
  source: 'heartbeat' | 'status';
}

export interface WorkerHistory {
  callsPerSec: number[];
  p99Ms: number[];
  loopDelayMs: number[];
  rssMb: number[];
}

export interface ServiceView {
  service: string;
  deadline: DeadlinePolicy | null;
  workers: number;
  serving: number;
  callsPerSec: number;
  errorsPerSec: Record<string, number>;
  /** Failed calls / finished calls over the last interval, 0..1. */
  errorRate: number;
  /** Call-weighted mean of the live workers' p50 (their plain mean when no call finished). */
  p50Ms: number;
  /** The highest p99 among its serving workers. */
  p99Ms: number;
  inFlight: number;
  /** Sum of the serving workers' concurrency limits. */
  concurrency: number;
  /** The highest event-loop delay (p99) among its live workers. */
  loopDelayMs: number;
  /** Memory (RSS) of its live workers together. */
  rssBytes: number;
}

export interface ServiceHistory {
  callsPerSec: number[];
  errorRate: number[];
  p99Ms: number[];
  inFlight: number[];
  loopDelayMs: number[];
  rssMb: number[];
}

export interface SupervisorSeen {
  id: string;
  leader: boolean;
  startedAt: number;
  intervalMs: number;
  heartbeatAgeMs: number;
}

export interface SupervisorView {
  /** `leading`: a leader answers; `gone`: one did and no longer does; `none`: none seen yet. */
  state: 'leading' | 'gone' | 'none';
  leaderId: string | null;
  /** Every supervisor heard recently, leader or standby. */
  supervisors: SupervisorSeen[];
  /** Age of the last status reply, or null when none came. */
  statusAgeMs: number | null;
  /** Why the last status request failed, or null. */
  statusError: string | null;
  /** The leader's status reply left workers out (too many for one reply): the worker list is partial. */
  statusTruncated: boolean;
  /** When `state` last changed (ms since the epoch). */
  since: number;
}

export interface BusView {
  connected: boolean;
  server: string | null;
  since: number;
}

/** An endpoint as NATS service discovery (`$SRV.STATS`) reports it; shown when no supervisor leads. */
export interface SrvEndpointView {
  service: string;
  instance: string;
  endpoint: string;
  requests: number;
  errors: number;
  lastError: string;
  averageMs: number;
}

/** Messages dropped because they were too large, undecodable or invalid, by kind, since start. */
export interface RejectedCounts {
  heartbeat: number;
  supervisor: number;
  event: number;
  status: number;
}

export interface FleetView {
  v: typeof FLEET_VIEW_VERSION;
  ts: number;
  bus: BusView;
  supervisor: SupervisorView;
  services: ServiceView[];
  workers: WorkerView[];
  /** Filled only while no supervisor leads. */
  srv: SrvEndpointView[];
  /** Workers not shown because the dashboard's bound was reached. */
  dropped: number;
  rejected: RejectedCounts;
  /** Sample period of the histories, in ms. */
  sampleMs: number;
  /** Increments with every history sample; the page appends a point when it changes. */
  sample: number;
  /** Whether operator actions are enabled. */
  actions: boolean;
}

/** `/api/fleet?history=1` adds these, keyed by worker id and service name. */
export interface FleetHistory {
  workers: Record<string, WorkerHistory>;
  services: Record<string, ServiceHistory>;
}

export interface EventView {
  ts: number;
  supervisor: string;
  kind: string;
  service: string;
  workerId: string | null;
  reason: string;
  /** Stable code of the reason (`consecutive_faults`, `heartbeat_silence`...), or null. */
  code: string | null;
  /** `drain`, `shutdown`: the ejection period remaining at `ts`, in ms, and which ejection this is. */
  ejectionMs: number | null;
  ejection: number | null;
  figures: Record<string, unknown>;
}
