/**
 * Starting a supervisor: its options are validated up front (a bad value names the option), its
 * keys and connection set up, and what it runs beside that connection (metrics, the system-account
 * connection; see operations.ts) started before it counts as ready.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { openConnection, type ConnectionOptions } from '../connection/options.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { assertPrefix } from '../protocol/subjects.js';
import { checkDeadlinePolicy, type DeadlinePolicy } from '../protocol/supervisor-envelopes.js';
import { resolveBoolean, resolveNumber, resolveString } from '../options/resolve.js';
import { PROCESS_OPTIONS, SUPERVISOR_OPTIONS } from '../options/table.js';
import type { CommandSigner } from './commands.js';
import { resolvePolicy, type HealthPolicy } from './policy.js';
import { SupervisorOperations, type FencingOptions, type MetricsOptions } from './operations.js';
import { messageVerifierOf, signerOf } from './signing.js';
import { Supervisor } from './supervisor.js';

export { DEFAULT_SUPERVISOR_INTERVAL_MS } from '../options/table.js';

export interface SupervisorOptions extends ConnectionOptions {
  prefix?: string;
  /** Supervisor heartbeat and election interval in ms. Default 1,000. */
  intervalMs?: number;
  policy?: Partial<HealthPolicy>;
  /** Deadline policy by service; `*` for every other service. */
  deadlines?: Record<string, DeadlinePolicy>;
  logger?: Logger;
  connection?: NatsConnection;
  /**
   * Sign control commands with this nkey: the seed itself (`SU...`), or a file holding it. Workers
   * started with `trustedKeys: [its public key]` obey only commands it signed.
   */
  signing?: { seed: string } | { seedFile: string };
  /** Extension point: sign control commands with your own signer (instead of `signing`). */
  signCommand?: CommandSigner;
  /**
   * With `signing`: public keys of the other supervisors of this fleet, when they sign with keys
   * of their own. A signing supervisor believes only heartbeats and events signed by its own key
   * or one of these.
   */
  trustedKeys?: string[];
  /** Serve Prometheus metrics of the fleet at http://host:port/metrics. */
  metrics?: MetricsOptions;
  /** Fence lost workers and hear their connections close, as this system-account user. */
  fencing?: FencingOptions;
  /**
   * With `fencing`: a worker whose connection the broker reports closed (`$SYS` disconnect
   * advisory) is declared lost at once, and its callers told by a `lost` event, instead of after
   * heartbeat silence. Default true (env `NATSRPC_LOSS_RELAY`); `true` without `fencing` is an error.
   */
  lossRelay?: boolean;
  /**
   * With `fencing`: the leading supervisor closes the broker connection of a worker it declares
   * lost by heartbeat silence, once it has checked the connection is that worker's, so a frozen
   * process stops getting requests at once. Default true (env `NATSRPC_KICK_LOST`); `true`
   * without `fencing` is an error.
   */
  kickLost?: boolean;
}

/**
 * Starts a supervisor and resolves once it listens.
 *
 * @example
 * ```ts
 * const sup = await startSupervisor({ servers: 'nats://127.0.0.1:4222', policy: { maxDrainPercent: 30 } });
 * process.on('SIGTERM', () => sup.close());
 * ```
 */
export async function startSupervisor(options: SupervisorOptions = {}): Promise<Supervisor> {
  const prefix = resolveString(PROCESS_OPTIONS.prefix, options.prefix)!;
  assertPrefix(prefix);
  const intervalMs = resolveNumber(SUPERVISOR_OPTIONS.intervalMs, options.intervalMs);
  const policy = resolvePolicy(options.policy);
  const deadlines = options.deadlines ?? {};
  for (const [service, d] of Object.entries(deadlines)) {
    const reason = checkDeadlinePolicy(d);
    if (reason !== null) throw new TypeError(`deadlines.${service}: ${reason}`);
  }
  const lossRelay = resolveBoolean(SUPERVISOR_OPTIONS.lossRelay, options.lossRelay) && options.fencing !== undefined;
  if (options.lossRelay === true && options.fencing === undefined) {
    throw new TypeError('lossRelay needs a system-account connection to hear disconnects: set fencing (a $SYS user)');
  }
  const kickLost = resolveBoolean(SUPERVISOR_OPTIONS.kickLost, options.kickLost) && options.fencing !== undefined;
  if (options.kickLost === true && options.fencing === undefined) {
    throw new TypeError('kickLost needs a system-account connection to close connections: set fencing (a $SYS user)');
  }
  const { sign, nkey } = signerOf(options);
  const verifier = messageVerifierOf(nkey, options.trustedKeys);
  const id = `sup-${randomBytes(6).toString('hex')}`;
  const logger = (options.logger ?? createLogger('natsrpc-supervisor')).child({ supervisorId: id });
  const nc = options.connection ?? (await openConnection({ name: id, ...options }));
  const operations = new SupervisorOperations();
  const verifying = options.fencing !== undefined;
  const sup = new Supervisor(nc, { id, prefix, intervalMs, policy, deadlines, logger, ownsConnection: options.connection === undefined, sign, nkey, verifier, operations, verifying });
  try {
    await operations.start(sup, { metrics: options.metrics, fencing: options.fencing, lossRelay, kickLost, connection: options, own: nc, logger });
  } catch (err) {
    await sup.close();
    throw err;
  }
  await nc.flush();
  logger.info({ prefix, intervalMs, policy, deadlines }, 'supervisor ready');
  return sup;
}
