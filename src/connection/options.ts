/**
 * How natsrpc processes reach the broker: one options shape for clients, workers and the
 * supervisor, read from explicit options first and from the environment second.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type ConnectionOptions as NatsOptions, type NatsConnection } from 'nats';
import { RpcError } from '../protocol/errors.js';

export const DEFAULT_SERVERS = '127.0.0.1:4222';
/** Reconnect quickly: while disconnected, calls fail fast with UNAVAILABLE instead of waiting. */
export const DEFAULT_RECONNECT_WAIT_MS = 250;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export interface ConnectionOptions {
  /** One URL, a comma-separated list, or an array. Env: `NATS_URL`. Default `127.0.0.1:4222`. */
  servers?: string | string[];
  /** Env: `NATS_USER`. */
  user?: string;
  /** Env: `NATS_PASS`. */
  pass?: string;
  /** Env: `NATS_TOKEN`. */
  token?: string;
  /** Path to a `.creds` file (JWT and nkey seed). Env: `NATS_CREDS`. */
  credsFile?: string;
  /** Connection name shown by the broker's monitoring. */
  name?: string;
  /** Any further `nats` connection options; they override what natsrpc derives. */
  nats?: Partial<NatsOptions>;
}

type Env = Record<string, string | undefined>;

/** Fills what `options` leaves unset from `NATS_URL`, `NATS_USER`, `NATS_PASS`, `NATS_TOKEN`, `NATS_CREDS`. */
export function withEnvDefaults(options: ConnectionOptions = {}, env: Env = process.env): ConnectionOptions {
  return {
    ...options,
    servers: options.servers ?? env.NATS_URL ?? DEFAULT_SERVERS,
    user: options.user ?? env.NATS_USER,
    pass: options.pass ?? env.NATS_PASS,
    token: options.token ?? env.NATS_TOKEN,
    credsFile: options.credsFile ?? env.NATS_CREDS,
  };
}

function serverList(servers: string | string[] | undefined): string[] {
  const list = Array.isArray(servers) ? servers : (servers ?? DEFAULT_SERVERS).split(',');
  const out = list.map((s) => s.trim()).filter((s) => s.length > 0);
  if (out.length === 0) throw new TypeError(`servers must name at least one server, received ${JSON.stringify(servers)}`);
  return out;
}

/** Builds the `nats` connection options. Throws TypeError for invalid values. */
export function natsOptions(options: ConnectionOptions): NatsOptions {
  const resolved = withEnvDefaults(options);
  const opts: NatsOptions = {
    servers: serverList(resolved.servers),
    name: resolved.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: DEFAULT_RECONNECT_WAIT_MS,
    timeout: DEFAULT_CONNECT_TIMEOUT_MS,
    // natsrpc never relies on the stack traces that nc.request() builds for every call.
    noAsyncTraces: true,
  };
  if (resolved.user !== undefined) opts.user = resolved.user;
  if (resolved.pass !== undefined) opts.pass = resolved.pass;
  if (resolved.token !== undefined) opts.token = resolved.token;
  if (resolved.credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(resolved.credsFile);
    } catch (cause) {
      throw new TypeError(`credsFile cannot be read: ${JSON.stringify(resolved.credsFile)}`, { cause });
    }
    opts.authenticator = credsAuthenticator(creds);
  }
  return { ...opts, ...resolved.nats };
}

/** Opens a connection; a broker that cannot be reached becomes `RpcError('UNAVAILABLE')`. */
export async function openConnection(options: ConnectionOptions): Promise<NatsConnection> {
  const opts = natsOptions(options);
  try {
    return await connect(opts);
  } catch (cause) {
    throw new RpcError('UNAVAILABLE', `cannot connect to NATS at ${String(opts.servers)}: ${(cause as Error).message}`, { cause });
  }
}
