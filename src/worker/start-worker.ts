/**
 * Starting a worker: its options are validated up front (a bad value names the option), its
 * connection opened, its queue-group subscription confirmed by the broker, and its heartbeats,
 * control endpoint and watchdog started (see agent.ts) before it counts as ready.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { DEFAULT_MSGPACK_LIMITS, type MsgpackLimits } from '../protocol/msgpack-guard.js';
import { assertPrefix, serviceWildcard } from '../protocol/subjects.js';
import { openConnection, type ConnectionOptions } from '../connection/options.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { resolveBoolean, resolveChoice, resolveNumber, resolveString } from '../options/resolve.js';
import { BODY_OPTIONS, PROCESS_OPTIONS, WORKER_OPTIONS } from '../options/table.js';
import { defineWorker, type Handler, type WorkerDefinition } from './definition.js';
import { defaultLowWater, type RoutingMode } from './load-aware-routing.js';
import { hasControlVerifier, WorkerAgent, type SupervisionOptions } from './agent.js';
import { controlSecurity, productionSigns } from './control-auth.js';
import { processEnv } from '../options/env.js';
import { messageVerifierForKeys } from '../security/command-keys.js';
import { RpcWorker } from './worker.js';

export interface WorkerOptions extends ConnectionOptions, SupervisionOptions {
  /** Overrides the definition's concurrency. */
  concurrency?: number;
  /** How long a drain waits for handlers in flight, in ms. Default 10,000. */
  drainTimeoutMs?: number;
  /**
   * The longest budget (deadline) granted to one request, in ms, whatever its caller asked; the
   * supervisor's maximum for the service caps it too. Default 300,000.
   */
  maxBudgetMs?: number;
  /** Subject prefix. Default `rpc`. */
  prefix?: string;
  logger?: Logger;
  /** Decoding limits for requests. */
  limits?: MsgpackLimits;
  /** Use this connection instead of opening one; `stop()` then leaves it open. */
  connection?: NatsConnection;
  /**
   * What a worker at its concurrency limit does: `overload-reply` (default) answers `OVERLOADED`;
   * `leave-when-full` leaves the queue group until it is back at `lowWater` (see docs/benchmarks.md).
   */
  routing?: RoutingMode;
  /** With `leave-when-full`: rejoin the queue group at or below this many calls in flight. Default: half the concurrency. */
  lowWater?: number;
  /** Largest request or reply body, sent in chunks beyond the broker's max_payload, in bytes. Default 64 MiB. */
  maxBodyBytes?: number;
  /** Answer NATS service discovery (`$SRV.PING/INFO/STATS`). Default true. */
  discovery?: boolean;
}

/**
 * Starts serving a worker definition and resolves once its subscription is live at the broker.
 *
 * @example
 * ```ts
 * const worker = await startWorker(math, { servers: 'nats://127.0.0.1:4222' });
 * process.on('SIGTERM', () => worker.stop().then(() => process.exit(0)));
 * ```
 */
export async function startWorker<M extends Record<string, unknown>>(
  definition: WorkerDefinition<M & Record<string, Handler>> | WorkerDefinition,
  options: WorkerOptions = {},
): Promise<RpcWorker> {
  defineWorker(definition as WorkerDefinition);
  // The definition's concurrency is the module author's choice: explicit, so it beats the environment.
  const concurrency = resolveNumber(WORKER_OPTIONS.concurrency, options.concurrency ?? definition.concurrency);
  const drainTimeoutMs = resolveNumber(WORKER_OPTIONS.drainTimeoutMs, options.drainTimeoutMs);
  const maxBudgetMs = resolveNumber(WORKER_OPTIONS.maxBudgetMs, options.maxBudgetMs);
  const prefix = resolveString(PROCESS_OPTIONS.prefix, options.prefix)!;
  assertPrefix(prefix);
  const routing: RoutingMode = resolveChoice(WORKER_OPTIONS.routing, options.routing);
  const lowWater = resolveNumber(WORKER_OPTIONS.lowWater, options.lowWater, undefined, { max: concurrency - 1 }) ?? defaultLowWater(concurrency);
  const id = `${definition.service}-${randomBytes(6).toString('hex')}`;
  // Checked before connecting: a bad key names the option and leaves nothing open.
  const policyVerifier = options.trustedKeys !== undefined && options.trustedKeys.length > 0 ? messageVerifierForKeys(options.trustedKeys, 'trustedKeys') : undefined;
  const logger = (options.logger ?? createLogger('natsrpc-worker')).child({ service: definition.service, workerId: id });
  const nc = options.connection ?? (await openConnection({ name: id, ...options }));
  const supervised = resolveBoolean(WORKER_OPTIONS.heartbeat, options.heartbeat);
  const production = productionSigns(nc, processEnv());
  const security = controlSecurity(!supervised ? 'off' : hasControlVerifier(options) ? 'verified' : 'unsigned', production);
  if (security.warning !== undefined) {
    logger.warn(
      { warning: security.warning, nodeEnv: production.nodeEnv, brokerAuth: production.brokerAuth },
      'control commands are NOT signed: anyone who may publish on this worker\'s control subject can drain or stop it. Give it trustedKeys (--trusted-key, NATSRPC_TRUSTED_KEYS; natsrpc signing-key makes a pair)',
    );
  }
  const worker = new RpcWorker(nc, definition as WorkerDefinition, {
    id,
    concurrency,
    drainTimeoutMs,
    maxBudgetMs,
    prefix,
    logger,
    limits: options.limits ?? DEFAULT_MSGPACK_LIMITS,
    ownsConnection: options.connection === undefined,
    routing,
    lowWater,
    discovery: resolveBoolean(WORKER_OPTIONS.discovery, options.discovery),
    maxBodyBytes: resolveNumber(BODY_OPTIONS.maxBodyBytes, options.maxBodyBytes),
    security,
    ...(policyVerifier === undefined ? {} : { policyVerifier }),
  });
  await nc.flush();
  if (supervised) {
    // Heartbeats, control and the watchdog: see agent.ts. A worker that cannot start them stops.
    const agent = await WorkerAgent.start(worker, nc, options, { prefix, logger, connection: options, ownsConnection: options.connection === undefined })
      .catch(async (err: unknown) => {
        await worker.stop();
        throw err;
      });
    worker.onStop((reason) => agent.stop(reason));
  }
  logger.info({ concurrency, subject: serviceWildcard(prefix, definition.service) }, 'worker ready');
  return worker;
}

