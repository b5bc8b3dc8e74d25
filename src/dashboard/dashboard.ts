/**
 * `startDashboard()`: a process-local web dashboard of the fleet. It reads the bus (heartbeats,
 * the leading supervisor's status and events, `$SRV` stats when no supervisor leads) and serves a
 * page, a JSON API and a live stream. Read-only and bound to 127.0.0.1 unless told otherwise.
 */
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { NatsConnection } from 'nats';
import { openConnection, type ConnectionOptions } from '../connection/options.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { resolveBoolean, resolveNumber, resolveString } from '../options/resolve.js';
import { DASHBOARD_OPTIONS, PROCESS_OPTIONS } from '../options/table.js';
import { assertPrefix } from '../protocol/subjects.js';
import type { CommandSigner } from '../supervisor/commands.js';
import { OperatorActions } from './actions.js';
import { TokenCheck } from './auth.js';
import { BusReader } from './bus-reader.js';
import { FleetModel } from './fleet-model.js';
import { handleRequest } from './http-server.js';
import { loadStaticFiles } from './static-files.js';
import { StreamHub } from './stream.js';

export { DEFAULT_DASHBOARD_HOST, DEFAULT_DASHBOARD_MAX_WORKERS, DEFAULT_DASHBOARD_PORT, DEFAULT_DASHBOARD_TICK_MS } from '../options/table.js';

/** History sample period. */
export const DASHBOARD_SAMPLE_MS = 1_000;
/** How often the leading supervisor's status is asked for. */
export const DASHBOARD_STATUS_EVERY_MS = 1_000;
/** How often `$SRV.STATS` is asked while no supervisor leads. */
export const DASHBOARD_SRV_EVERY_MS = 2_000;

/** Options not given here come from the environment, then the defaults (options/table.ts, DASHBOARD_OPTIONS). */
export interface DashboardOptions extends ConnectionOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Requests must carry this bearer token (at least 8 characters). Env NATSRPC_DASHBOARD_TOKEN. */
  token?: string;
  /** Allows drain/resume of one worker from the page. Default false. */
  allowActions?: boolean;
  /** Signs operator commands (as the supervisor's are signed). */
  signCommand?: CommandSigner;
  prefix?: string;
  /** Use this connection instead of opening one (it is not closed by `close()`). */
  connection?: NatsConnection;
  logger?: Logger;
  tickMs?: number;
  maxWorkers?: number;
}

export interface Dashboard {
  /** `http://host:port/` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export async function startDashboard(options: DashboardOptions = {}): Promise<Dashboard> {
  const port = resolveNumber(DASHBOARD_OPTIONS.port, options.port);
  const host = resolveString(DASHBOARD_OPTIONS.host, options.host)!;
  const tickMs = resolveNumber(DASHBOARD_OPTIONS.tickMs, options.tickMs);
  const maxWorkers = resolveNumber(DASHBOARD_OPTIONS.maxWorkers, options.maxWorkers);
  const allowActions = resolveBoolean(DASHBOARD_OPTIONS.allowActions, options.allowActions);
  const prefix = resolveString(PROCESS_OPTIONS.prefix, options.prefix)!;
  assertPrefix(prefix);
  const token = new TokenCheck(resolveString(DASHBOARD_OPTIONS.token, options.token));
  const files = loadStaticFiles();
  const log = options.logger ?? createLogger('natsrpc-dashboard');
  const nc = options.connection ?? (await openConnection({ ...options, name: options.name ?? 'natsrpc-dashboard' }));
  const now = Date.now();
  const model = new FleetModel({ maxWorkers, sampleMs: DASHBOARD_SAMPLE_MS, actions: allowActions }, now);
  const hub = new StreamHub();
  const reader = new BusReader(nc, model, { prefix, statusEveryMs: DASHBOARD_STATUS_EVERY_MS, srvEveryMs: DASHBOARD_SRV_EVERY_MS, onEvent: (e) => hub.broadcast('event', e) }, log);
  const actions = allowActions ? new OperatorActions(nc, prefix, `dashboard@${hostname()}`, log, options.signCommand) : null;
  let hosts: Set<string> | null = null;
  const server: Server = createServer((req, res) => handleRequest({ model, files, token, hub, actions, hosts }, req, res));
  server.on('clientError', (_err, socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (err) {
    reader.close();
    if (options.connection === undefined) await nc.close();
    throw err;
  }
  const bound = (server.address() as { port: number }).port;
  if (LOOPBACK.has(host)) hosts = new Set([`127.0.0.1:${bound}`, `localhost:${bound}`, `[::1]:${bound}`]);
  let lastSampleAt = now;
  const ticker = setInterval(() => {
    const t = Date.now();
    let view;
    if (t - lastSampleAt >= DASHBOARD_SAMPLE_MS) {
      lastSampleAt = t;
      view = model.sample(t);
    } else if (hub.size > 0) view = model.view(t);
    if (view !== undefined) hub.broadcast('fleet', view);
  }, tickMs);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  log.info({ url: `http://${urlHost}:${bound}/`, actions: actions !== null, token: token.required }, 'dashboard listening');
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${bound}/`,
    port: bound,
    close() {
      closing ??= (async () => {
        clearInterval(ticker);
        reader.close();
        hub.close();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        if (options.connection === undefined) await nc.close();
      })();
      return closing;
    },
  };
}
