/**
 * Every option of natsrpc's clients, workers and supervisor, in one table: name, default (a named
 * constant with its unit), bounds, environment variable and, where the CLI has one, its flag.
 * Resolution rules are in resolve.ts; docs/options.md lists the table for people.
 */
import { MAX_ATTEMPT, MAX_BODY_BYTES, MAX_BUDGET_MS, MAX_STREAM_WINDOW_BYTES, MAX_STREAM_WINDOW_ITEMS, MIN_STREAM_WINDOW_BYTES } from '../protocol/envelope.js';
import { DEFAULT_PREFIX } from '../protocol/subjects.js';
import { booleanOption, choiceOption, numberOption, stringOption, type OptionSpec } from './resolve.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

// ---- client -------------------------------------------------------------------------------

export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_INITIAL_BACKOFF_MS = 20;
export const DEFAULT_MAX_BACKOFF_MS = 1_000;
export const DEFAULT_BACKOFF_MULTIPLIER = 2;
export const DEFAULT_RETRY_BUDGET_RATIO = 0.1;
export const DEFAULT_RETRY_BUDGET_BURST = 10;
export const DEFAULT_HEDGE_MAX_ATTEMPTS = 2;
export const DEFAULT_HEDGE_FALLBACK_DELAY_MS = 50;
export const DEFAULT_ACK_TIMEOUT_MS = 250;
export const DEFAULT_PROBE_AFTER_MS = 250;
export const DEFAULT_PROBE_INTERVAL_MS = 250;
export const DEFAULT_PROBE_TIMEOUT_MS = 1_000;

export const CLIENT_OPTIONS = {
  timeoutMs: numberOption({ name: 'timeoutMs', default: DEFAULT_TIMEOUT_MS, min: 1, max: MAX_BUDGET_MS, integer: true, unit: 'ms', flag: 'timeout' }),
  waitForWorkers: booleanOption({ name: 'waitForWorkers', default: false }),
  waitForConnection: booleanOption({ name: 'waitForConnection', default: false }),
  deadlinePolicy: booleanOption({ name: 'deadlinePolicy', default: true }),
} as const;

export const RETRY_OPTIONS = {
  maxAttempts: numberOption({ name: 'retry.maxAttempts', default: DEFAULT_MAX_ATTEMPTS, min: 1, max: MAX_ATTEMPT, integer: true, unit: 'count' }),
  initialBackoffMs: numberOption({ name: 'retry.initialBackoffMs', default: DEFAULT_INITIAL_BACKOFF_MS, min: 0, max: MAX_BUDGET_MS, integer: true, unit: 'ms' }),
  maxBackoffMs: numberOption({ name: 'retry.maxBackoffMs', default: DEFAULT_MAX_BACKOFF_MS, min: 0, max: MAX_BUDGET_MS, integer: true, unit: 'ms' }),
  backoffMultiplier: numberOption({ name: 'retry.backoffMultiplier', default: DEFAULT_BACKOFF_MULTIPLIER, min: 1, max: 100, integer: false, unit: 'factor' }),
  perAttemptTimeoutMs: numberOption({ name: 'retry.perAttemptTimeoutMs', default: undefined, min: 1, max: MAX_BUDGET_MS, integer: true, unit: 'ms' }),
} as const;

export const RETRY_BUDGET_OPTIONS = {
  ratio: numberOption({ name: 'retryBudget.ratio', default: DEFAULT_RETRY_BUDGET_RATIO, min: 0, max: 10, integer: false, unit: 'ratio' }),
  burst: numberOption({ name: 'retryBudget.burst', default: DEFAULT_RETRY_BUDGET_BURST, min: 0, max: 1_000_000, integer: true, unit: 'count' }),
} as const;

export const HEDGE_OPTIONS = {
  delayMs: numberOption({ name: 'hedge.delayMs', env: null, default: undefined, min: 1, max: MAX_BUDGET_MS, integer: true, unit: 'ms' }),
  maxAttempts: numberOption({ name: 'hedge.maxAttempts', env: null, default: DEFAULT_HEDGE_MAX_ATTEMPTS, min: 2, max: 10, integer: true, unit: 'count' }),
  fallbackDelayMs: numberOption({ name: 'hedge.fallbackDelayMs', env: null, default: DEFAULT_HEDGE_FALLBACK_DELAY_MS, min: 1, max: MAX_BUDGET_MS, integer: true, unit: 'ms' }),
} as const;

export const LOST_WORKER_OPTIONS = {
  ackTimeoutMs: numberOption({ name: 'lostWorker.ackTimeoutMs', default: DEFAULT_ACK_TIMEOUT_MS, min: 1, max: MAX_BUDGET_MS, integer: true, unit: 'ms' }),
  probeAfterMs: numberOption({ name: 'lostWorker.probeAfterMs', default: DEFAULT_PROBE_AFTER_MS, min: 1, max: MAX_BUDGET_MS, integer: true, unit: 'ms' }),
  probeIntervalMs: numberOption({ name: 'lostWorker.probeIntervalMs', default: DEFAULT_PROBE_INTERVAL_MS, min: 1, max: MAX_BUDGET_MS, integer: true, unit: 'ms' }),
  probeTimeoutMs: numberOption({ name: 'lostWorker.probeTimeoutMs', default: DEFAULT_PROBE_TIMEOUT_MS, min: 1, max: MAX_BUDGET_MS, integer: true, unit: 'ms' }),
} as const;

// ---- streams ------------------------------------------------------------------------------

/** A stream's overall deadline when it names none: streams outlive calls. */
export const DEFAULT_STREAM_TIMEOUT_MS = 300_000;
/** A stream with no frame for this long while its caller waits for an item ends with TIMEOUT. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 30_000;
/**
 * The credit window: items and bytes a worker may send ahead of what its caller has read. 4,096
 * items let a worker send frames of 1,024 small items and keep sending while credit comes back.
 */
export const DEFAULT_STREAM_WINDOW_ITEMS = 4_096;
export const DEFAULT_STREAM_WINDOW_BYTES = 4 * 1024 * 1024;

export const STREAM_OPTIONS = {
  timeoutMs: numberOption({ name: 'stream.timeoutMs', default: DEFAULT_STREAM_TIMEOUT_MS, min: 1, max: MAX_BUDGET_MS, integer: true, unit: 'ms' }),
  idleTimeoutMs: numberOption({ name: 'stream.idleTimeoutMs', default: DEFAULT_STREAM_IDLE_TIMEOUT_MS, min: 1, max: MAX_BUDGET_MS, integer: true, unit: 'ms' }),
  windowItems: numberOption({ name: 'stream.windowItems', default: DEFAULT_STREAM_WINDOW_ITEMS, min: 1, max: MAX_STREAM_WINDOW_ITEMS, integer: true, unit: 'count' }),
  windowBytes: numberOption({ name: 'stream.windowBytes', default: DEFAULT_STREAM_WINDOW_BYTES, min: MIN_STREAM_WINDOW_BYTES, max: MAX_STREAM_WINDOW_BYTES, integer: true, unit: 'bytes' }),
} as const;

// ---- large bodies -------------------------------------------------------------------------

/** The largest request or reply body, sent in chunks beyond the broker's max_payload: 64 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Client and worker alike: a caller refuses to send more, a receiver refuses a longer declared body. */
export const BODY_OPTIONS = {
  maxBodyBytes: numberOption({ name: 'maxBodyBytes', default: DEFAULT_MAX_BODY_BYTES, min: 1_024, max: MAX_BODY_BYTES, integer: true, unit: 'bytes' }),
} as const;

// ---- worker -------------------------------------------------------------------------------

export const DEFAULT_CONCURRENCY = 64;
export const MAX_CONCURRENCY = 100_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;
/** A main loop blocked this long makes the process exit. */
export const DEFAULT_WATCHDOG_EXIT_MS = 10_000;
/**
 * The longest budget a worker grants one request (it also caps at the supervisor's maximum for its
 * service): a caller cannot hold a slot longer by asking for more. As long as a stream's default.
 */
export const DEFAULT_MAX_BUDGET_MS = 300_000;
export const ROUTING_MODES = ['overload-reply', 'leave-when-full'] as const;
export const DEFAULT_ROUTING = 'overload-reply';

export const WORKER_OPTIONS = {
  concurrency: numberOption({ name: 'concurrency', default: DEFAULT_CONCURRENCY, min: 1, max: MAX_CONCURRENCY, integer: true, unit: 'count', flag: 'concurrency' }),
  drainTimeoutMs: numberOption({ name: 'drainTimeoutMs', default: DEFAULT_DRAIN_TIMEOUT_MS, min: 0, max: HOUR_MS, integer: true, unit: 'ms', flag: 'drain-timeout' }),
  maxBudgetMs: numberOption({ name: 'maxBudgetMs', default: DEFAULT_MAX_BUDGET_MS, min: 1, max: MAX_BUDGET_MS, integer: true, unit: 'ms', flag: 'max-budget' }),
  routing: choiceOption({ name: 'routing', default: DEFAULT_ROUTING, choices: ROUTING_MODES }),
  /** Default: half the concurrency; at most the concurrency minus one. */
  lowWater: numberOption({ name: 'lowWater', default: undefined, min: 0, max: MAX_CONCURRENCY - 1, integer: true, unit: 'count' }),
  discovery: booleanOption({ name: 'discovery', default: true }),
  heartbeat: booleanOption({ name: 'heartbeat', default: true }),
  heartbeatIntervalMs: numberOption({ name: 'heartbeatIntervalMs', default: DEFAULT_HEARTBEAT_INTERVAL_MS, min: 10, max: HOUR_MS, integer: true, unit: 'ms', flag: 'heartbeat' }),
  watchdogExitMs: numberOption({ name: 'watchdogExitMs', default: DEFAULT_WATCHDOG_EXIT_MS, min: 0, max: HOUR_MS, integer: true, unit: 'ms', flag: 'watchdog-exit' }),
} as const;

// ---- supervisor ---------------------------------------------------------------------------

export const DEFAULT_SUPERVISOR_INTERVAL_MS = 1_000;
/** Metrics listen on loopback unless told otherwise (a container publishing the port binds 0.0.0.0). */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

export const SUPERVISOR_OPTIONS = {
  intervalMs: numberOption({ name: 'intervalMs', env: 'NATSRPC_SUPERVISOR_INTERVAL_MS', default: DEFAULT_SUPERVISOR_INTERVAL_MS, min: 10, max: HOUR_MS, integer: true, unit: 'ms', flag: 'interval' }),
  /** Serve Prometheus metrics on this port (0: any free port); unset: no metrics endpoint. */
  metricsPort: numberOption({ name: 'metricsPort', default: undefined, min: 0, max: 65_535, integer: true, unit: 'port', flag: 'metrics-port' }),
  metricsHost: stringOption({ name: 'metricsHost', default: DEFAULT_METRICS_HOST, flag: 'metrics-host' }),
  /**
   * With a system-account connection (`fencing`): declare a worker lost the moment the broker
   * reports its connection closed, and tell its callers at once (docs/protocol.md, *Worker losses*).
   */
  lossRelay: booleanOption({ name: 'lossRelay', default: true, flag: 'no-loss-relay' }),
  /**
   * With a system-account connection (`fencing`): the leading supervisor closes, at the broker, the
   * connection of a worker it declares lost by heartbeat silence (after checking it is that worker's),
   * so a frozen process stops getting requests (docs/protocol.md, *Worker losses*).
   */
  kickLost: booleanOption({ name: 'kickLost', default: true, flag: 'no-kick-lost' }),
} as const;

/** The health policy (see supervisor/policy.ts for what each field means). */
export const HEALTH_POLICY_OPTIONS = {
  lostAfterIntervals: numberOption({ name: 'policy.lostAfterIntervals', default: 3, min: 1, max: 100, integer: true, unit: 'count' }),
  forgetAfterMs: numberOption({ name: 'policy.forgetAfterMs', default: 60_000, min: 0, max: DAY_MS, integer: true, unit: 'ms' }),
  maxConsecutiveFaults: numberOption({ name: 'policy.maxConsecutiveFaults', default: 5, min: 1, max: 1_000_000, integer: true, unit: 'count', flag: 'max-consecutive-faults' }),
  minFaultRate: numberOption({ name: 'policy.minFaultRate', default: 0.5, min: 0, max: 1, integer: false, unit: 'ratio' }),
  faultRateMargin: numberOption({ name: 'policy.faultRateMargin', default: 0.3, min: 0, max: 1, integer: false, unit: 'ratio' }),
  minRequestVolume: numberOption({ name: 'policy.minRequestVolume', default: 20, min: 1, max: 1_000_000_000, integer: true, unit: 'count' }),
  rateWindowMs: numberOption({ name: 'policy.rateWindowMs', default: 10_000, min: 100, max: DAY_MS, integer: true, unit: 'ms' }),
  maxLoopDelayMs: numberOption({ name: 'policy.maxLoopDelayMs', default: 1_000, min: 1, max: HOUR_MS, integer: true, unit: 'ms' }),
  maxStalledMs: numberOption({ name: 'policy.maxStalledMs', default: 3_000, min: 1, max: HOUR_MS, integer: true, unit: 'ms' }),
  maxOverdue: numberOption({ name: 'policy.maxOverdue', default: 0, min: 0, max: 1_000_000, integer: true, unit: 'count' }),
  baseEjectionMs: numberOption({ name: 'policy.baseEjectionMs', default: 10_000, min: 1, max: DAY_MS, integer: true, unit: 'ms', flag: 'base-ejection' }),
  maxEjectionMs: numberOption({ name: 'policy.maxEjectionMs', default: 300_000, min: 1, max: DAY_MS, integer: true, unit: 'ms' }),
  maxDrainPercent: numberOption({ name: 'policy.maxDrainPercent', default: 50, min: 0, max: 100, integer: true, unit: 'percent', flag: 'max-drain-percent' }),
  maxEjections: numberOption({ name: 'policy.maxEjections', default: 3, min: 1, max: 1_000, integer: true, unit: 'count' }),
  ejectionWindowMs: numberOption({ name: 'policy.ejectionWindowMs', default: 600_000, min: 1, max: DAY_MS * 7, integer: true, unit: 'ms' }),
} as const;

// ---- dashboard ----------------------------------------------------------------------------

export const DEFAULT_DASHBOARD_PORT = 8080;
export const DEFAULT_DASHBOARD_HOST = '127.0.0.1';
/** How often the live stream pushes the fleet: the page is at most this far behind the bus. */
export const DEFAULT_DASHBOARD_TICK_MS = 500;
/** Workers a dashboard tracks at most; more are counted as dropped. */
export const DEFAULT_DASHBOARD_MAX_WORKERS = 5_000;

export const DASHBOARD_OPTIONS = {
  port: numberOption({ name: 'dashboard.port', default: DEFAULT_DASHBOARD_PORT, min: 0, max: 65_535, integer: true, unit: 'port', flag: 'port' }),
  host: stringOption({ name: 'dashboard.host', default: DEFAULT_DASHBOARD_HOST, flag: 'host' }),
  /** Bearer token every request must carry (at least 8 characters). */
  token: stringOption({ name: 'dashboard.token', default: undefined, flag: 'dashboard-token' }),
  allowActions: booleanOption({ name: 'dashboard.allowActions', default: false, flag: 'allow-actions' }),
  tickMs: numberOption({ name: 'dashboard.tickMs', default: DEFAULT_DASHBOARD_TICK_MS, min: 50, max: 1_000, integer: true, unit: 'ms' }),
  maxWorkers: numberOption({ name: 'dashboard.maxWorkers', default: DEFAULT_DASHBOARD_MAX_WORKERS, min: 1, max: 100_000, integer: true, unit: 'count' }),
} as const;

// ---- connection and process ---------------------------------------------------------------

export const DEFAULT_SERVERS = '127.0.0.1:4222';
export const DEFAULT_LOG_LEVEL = 'info';

export const CONNECTION_OPTIONS = {
  servers: stringOption({ name: 'servers', env: 'NATS_URL', default: DEFAULT_SERVERS, flag: 'servers' }),
  user: stringOption({ name: 'user', env: 'NATS_USER', default: undefined, flag: 'user' }),
  pass: stringOption({ name: 'pass', env: 'NATS_PASS', default: undefined, flag: 'pass' }),
  token: stringOption({ name: 'token', env: 'NATS_TOKEN', default: undefined, flag: 'token' }),
  credsFile: stringOption({ name: 'credsFile', env: 'NATS_CREDS', default: undefined, flag: 'creds' }),
  nkeySeed: stringOption({ name: 'nkeySeed', env: 'NATS_NKEY_SEED', default: undefined, flag: 'nkey' }),
  tlsCa: stringOption({ name: 'tlsCa', env: 'NATS_TLS_CA', default: undefined, flag: 'tls-ca' }),
  tlsCert: stringOption({ name: 'tlsCert', env: 'NATS_TLS_CERT', default: undefined, flag: 'tls-cert' }),
  tlsKey: stringOption({ name: 'tlsKey', env: 'NATS_TLS_KEY', default: undefined, flag: 'tls-key' }),
  inboxPrefix: stringOption({ name: 'inboxPrefix', env: 'NATS_INBOX_PREFIX', default: undefined, flag: 'inbox-prefix' }),
} as const;

/** NATS's own default port, the one `DEFAULT_SERVERS` dials. */
export const DEFAULT_BROKER_PORT = 4222;

export const PROCESS_OPTIONS = {
  prefix: stringOption({ name: 'prefix', default: DEFAULT_PREFIX, flag: 'prefix' }),
  logLevel: stringOption({ name: 'logLevel', env: 'LOG_LEVEL', default: DEFAULT_LOG_LEVEL }),
  /** `$SYS` account user for lost-worker fencing (the supervisor). */
  sysUser: stringOption({ name: 'sysUser', default: undefined, flag: 'sys-user' }),
  sysPass: stringOption({ name: 'sysPass', default: undefined, flag: 'sys-pass' }),
  /** The supervisor's nkey seed for signing control commands, or a file holding it. */
  signingSeed: stringOption({ name: 'signingSeed', default: undefined, flag: 'signing-seed' }),
  /** Comma-separated public keys whose control commands workers obey. */
  trustedKeys: stringOption({ name: 'trustedKeys', default: undefined, flag: 'trusted-key' }),
  /** The nats-server binary for local brokers (`natsrpc dev`, tests). */
  natsServerBin: stringOption({ name: 'natsServerBin', env: 'NATS_SERVER_BIN', default: undefined }),
  /** The port `natsrpc broker` listens on (the port clients dial by default). */
  brokerPort: numberOption({ name: 'brokerPort', env: 'NATS_PORT', default: DEFAULT_BROKER_PORT, min: 1, max: 65_535, integer: true, unit: 'port', flag: 'port' }),
} as const;

/** Every row, for documentation and for the test that keeps names and variables unique. */
export const ALL_OPTIONS: readonly OptionSpec[] = [
  CLIENT_OPTIONS, RETRY_OPTIONS, RETRY_BUDGET_OPTIONS, HEDGE_OPTIONS, LOST_WORKER_OPTIONS, STREAM_OPTIONS, BODY_OPTIONS,
  WORKER_OPTIONS, SUPERVISOR_OPTIONS, HEALTH_POLICY_OPTIONS, DASHBOARD_OPTIONS, CONNECTION_OPTIONS, PROCESS_OPTIONS,
].flatMap((group) => Object.values(group) as OptionSpec[]);
