/**
 * What a supervisor runs beside its own connection, from its options: the Prometheus endpoint of
 * the fleet (`metrics`), and a system-account connection (`fencing`) that (with `kickLost`) kicks the
 * connections of lost workers and (with `lossRelay`) hears worker connections close at the broker. The CLI's
 * flags map onto these options; a library user gets the same from `startSupervisor`.
 */
import type { NatsConnection } from 'nats';
import { openConnection, type ConnectionOptions } from '../connection/options.js';
import type { Logger } from '../logging/logger.js';
import { FleetMetrics } from '../metrics/fleet-metrics.js';
import { resolveNumber, resolveString } from '../options/resolve.js';
import { SUPERVISOR_OPTIONS } from '../options/table.js';
import { LostWorkerFencing } from './fencing.js';
import { MemberCheck } from './member-check.js';
import { DisconnectRelay } from './loss-relay.js';
import { fleetView } from './metrics-view.js';
import type { KickCounts, Supervisor } from './supervisor.js';

/** Serve Prometheus metrics at http://host:port/metrics. */
export interface MetricsOptions {
  /** 0: any free port (read it back from `supervisor.metricsPort`). */
  port: number;
  /** Listen address. Default `0.0.0.0` (env `NATSRPC_METRICS_HOST`). */
  host?: string;
}

/**
 * A system-account identity (the broker's `$SYS` account), used on the supervisor's own servers
 * and TLS settings: the leading supervisor kicks the connection of a worker it declares lost, so
 * the broker stops routing into a frozen process, and every supervisor hears worker connections
 * close and declares those workers lost at once.
 */
export type FencingOptions = Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'credsFile' | 'nkeySeed'> & {
  /**
   * The broker user of each service's workers (`{ math: 'math' }`): a heartbeat counts only when
   * the connection it names is of that user. A service not named here is bound to the user of its
   * first verified worker. See member-check.ts.
   */
  memberUsers?: Record<string, string>;
};

export class SupervisorOperations {
  #metrics: FleetMetrics | null = null;
  #metricsPort: number | null = null;
  #sys: NatsConnection | null = null;
  #fencing: LostWorkerFencing | null = null;
  #closing: Promise<void> | null = null;

  /** The port the metrics endpoint listens on, or null without one. */
  get metricsPort(): number | null {
    return this.#metricsPort;
  }

  /** What kicking lost workers came to so far (`kickLost`), or null when the supervisor does not kick. */
  get kicks(): KickCounts | null {
    return this.#fencing?.counts ?? null;
  }

  /** Starts what the options ask for; on failure, closes what it started and throws. */
  async start(
    sup: Supervisor,
    options: { metrics?: MetricsOptions | undefined; fencing?: FencingOptions | undefined; lossRelay: boolean; kickLost: boolean; connection: ConnectionOptions; own: NatsConnection; logger: Logger },
  ): Promise<void> {
    try {
      if (options.fencing !== undefined) {
        const f = options.fencing;
        // The supervisor's servers and TLS, the system account's identity (and nothing of the supervisor's own).
        this.#sys = await openConnection({
          ...options.connection,
          name: `${sup.id}-sys`,
          user: f.user,
          pass: f.pass,
          token: f.token,
          credsFile: f.credsFile,
          nkeySeed: f.nkeySeed,
        });
        const check = new MemberCheck(this.#sys, options.own, f.memberUsers ?? {}, options.logger);
        sup.checkMembers(check);
        if (options.kickLost) this.#fencing = new LostWorkerFencing(sup, this.#sys, check, options.logger);
        if (options.lossRelay) new DisconnectRelay(sup, this.#sys, options.logger);
      }
      if (options.metrics !== undefined) {
        const port = resolveNumber(SUPERVISOR_OPTIONS.metricsPort, options.metrics.port);
        if (port === undefined) throw new TypeError('metrics.port is required (0 for any free port)');
        const host = resolveString(SUPERVISOR_OPTIONS.metricsHost, options.metrics.host)!;
        this.#metrics = new FleetMetrics(() => fleetView(sup.registry));
        this.#metricsPort = await this.#metrics.listen(port, host);
        options.logger.info({ port: this.#metricsPort, host }, 'metrics listening');
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Stops the metrics endpoint and closes the system-account connection. Calling it again returns the same promise. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([this.#metrics?.close(), this.#sys?.close()]).then(() => undefined);
    return this.#closing;
  }
}
