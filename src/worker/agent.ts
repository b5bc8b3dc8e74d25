/**
 * What makes a worker supervisable: heartbeats (from the watchdog thread), the control endpoint
 * and the watchdog itself, started together by `startWorker` and stopped with the worker.
 */
import type { NatsConnection } from 'nats';
import { verifierForKeys } from '../security/command-keys.js';
import { withEnvDefaults, type ConnectionOptions } from '../connection/options.js';
import type { Logger } from '../logging/logger.js';
import { heartbeatSubject } from '../protocol/subjects.js';
import { resolveNumber } from '../options/resolve.js';
import { WORKER_OPTIONS } from '../options/table.js';
import { WorkerControl, type ControlVerifier } from './control.js';
import { HeartbeatSource } from './heartbeat-source.js';
import { Watchdog } from './watchdog.js';
import type { RpcWorker } from './worker.js';

export { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_WATCHDOG_EXIT_MS } from '../options/table.js';

export interface SupervisionOptions {
  /** `false` turns heartbeats, control and the watchdog off. Default on. */
  heartbeat?: boolean;
  /** Heartbeat interval in ms (jittered by ±10%). Default 1,000. */
  heartbeatIntervalMs?: number;
  /** Exit the process when its main loop is blocked this long, in ms; 0 never exits. Default 10,000. */
  watchdogExitMs?: number;
  /**
   * Obey only control commands signed by one of these nkey public keys (`U...`), the supervisor's
   * `signing` key. Env `NATSRPC_TRUSTED_KEYS` in the CLI.
   */
  trustedKeys?: readonly string[];
  /** Extension point: check each control command yourself (instead of `trustedKeys`); return a reason to refuse it. */
  verifyControl?: ControlVerifier;
  /** Called after a `shutdown` command has stopped the worker. */
  onShutdown?: () => void;
}

/** Whether the worker checks control commands (trusted keys or its own verifier). */
export function hasControlVerifier(options: SupervisionOptions): boolean {
  return (options.trustedKeys !== undefined && options.trustedKeys.length > 0) || options.verifyControl !== undefined;
}

function controlVerifierOf(options: SupervisionOptions): ControlVerifier | undefined {
  const { trustedKeys, verifyControl } = options;
  if (trustedKeys === undefined || trustedKeys.length === 0) return verifyControl;
  if (verifyControl !== undefined) throw new TypeError('trustedKeys and verifyControl are exclusive: give one');
  return verifierForKeys(trustedKeys, 'trustedKeys');
}

export interface AgentContext {
  prefix: string;
  logger: Logger;
  /** How the worker connected; the watchdog thread opens its own connection the same way. */
  connection: ConnectionOptions;
  ownsConnection: boolean;
}

export class WorkerAgent {
  readonly #control: WorkerControl;
  readonly #watchdog: Watchdog;
  #stopping: Promise<void> | null = null;

  private constructor(control: WorkerControl, watchdog: Watchdog) {
    this.#control = control;
    this.#watchdog = watchdog;
  }

  static async start(worker: RpcWorker, nc: NatsConnection, options: SupervisionOptions, ctx: AgentContext): Promise<WorkerAgent> {
    const intervalMs = resolveNumber(WORKER_OPTIONS.heartbeatIntervalMs, options.heartbeatIntervalMs);
    const exitAfterMs = resolveNumber(WORKER_OPTIONS.watchdogExitMs, options.watchdogExitMs);
    const connection = threadConnection(nc, ctx, worker.id);
    const control = new WorkerControl(worker, nc, { prefix: ctx.prefix, logger: ctx.logger, verify: controlVerifierOf(options), onShutdown: options.onShutdown });
    try {
      const watchdog = await Watchdog.start({
        subject: heartbeatSubject(ctx.prefix, worker.service, worker.id),
        intervalMs,
        exitAfterMs,
        connection,
        source: new HeartbeatSource(worker, intervalMs),
        logger: ctx.logger,
      });
      // Say at once what the supervisor acts on: a change of state, a streak of faults.
      worker.onStateChange((state) => {
        if (state !== 'stopped') watchdog.beatNow();
      });
      worker.stats.onFaultStreak(() => watchdog.beatNow());
      return new WorkerAgent(control, watchdog);
    } catch (err) {
      control.close();
      throw err;
    }
  }

  /** Sends the final heartbeat and closes the control endpoint. Calling it again returns the same promise. */
  stop(reason: string): Promise<void> {
    this.#stopping ??= (async () => {
      this.#control.close();
      await this.#watchdog.stop(reason);
    })();
    return this.#stopping;
  }
}

/**
 * What the watchdog thread needs to connect the way the worker did: every plain connection setting
 * (servers, credentials, TLS files). The `nats` pass-through options may hold functions, which
 * cannot cross a thread boundary.
 */
const THREAD_CONNECTION_KEYS = ['servers', 'user', 'pass', 'token', 'credsFile', 'nkeySeed', 'tlsCa', 'tlsCert', 'tlsKey'] as const;

/** Connection options for the watchdog thread. A worker given a ready connection lends its current server URL. */
function threadConnection(nc: NatsConnection, ctx: AgentContext, id: string): ConnectionOptions {
  const resolved = withEnvDefaults(ctx.connection);
  const out: ConnectionOptions = { name: `${id}-heartbeat` };
  for (const key of THREAD_CONNECTION_KEYS) {
    if (resolved[key] !== undefined) (out as Record<string, unknown>)[key] = resolved[key];
  }
  if (!ctx.ownsConnection) out.servers = `nats://${nc.getServer()}`;
  return out;
}
