/**
 * How natsrpc processes reach the broker: one options shape for clients, workers and the
 * supervisor, read from explicit options first and from the environment second.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions as NatsOptions, type NatsConnection } from 'nats';
import { RpcError } from '../protocol/errors.js';
import { presizeLongMessages } from './presized-payloads.js';
import { processEnv, type Env } from '../options/env.js';
import { resolveString } from '../options/resolve.js';
import { CONNECTION_OPTIONS, DEFAULT_SERVERS } from '../options/table.js';

export { DEFAULT_SERVERS };
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
  /** An nkey seed (`SU...`) or the path of a file holding one. Env: `NATS_NKEY_SEED`. */
  nkeySeed?: string;
  /** CA certificate (PEM file) that the server's certificate must chain to. Env: `NATS_TLS_CA`. */
  tlsCa?: string;
  /** Client certificate (PEM file), for servers that verify clients. Env: `NATS_TLS_CERT`. */
  tlsCert?: string;
  /** Key of the client certificate (PEM file). Env: `NATS_TLS_KEY`. */
  tlsKey?: string;
  /**
   * Prefix of reply subjects (default `_INBOX`). Broker permissions confine each caller identity
   * to its own prefix, so no one else can read its replies. Env: `NATS_INBOX_PREFIX`.
   */
  inboxPrefix?: string;
  /** Connection name shown by the broker's monitoring. */
  name?: string;
  /** Any further `nats` connection options; they override what natsrpc derives. */
  nats?: Partial<NatsOptions>;
}

/** Fills what `options` leaves unset from the `NATS_*` environment variables (see options/table.ts). */
export function withEnvDefaults(options: ConnectionOptions = {}, env: Env = processEnv()): ConnectionOptions {
  const c = CONNECTION_OPTIONS;
  return {
    ...options,
    servers: Array.isArray(options.servers) ? options.servers : resolveString(c.servers, options.servers, env),
    user: resolveString(c.user, options.user, env),
    pass: resolveString(c.pass, options.pass, env),
    token: resolveString(c.token, options.token, env),
    credsFile: resolveString(c.credsFile, options.credsFile, env),
    nkeySeed: resolveString(c.nkeySeed, options.nkeySeed, env),
    tlsCa: resolveString(c.tlsCa, options.tlsCa, env),
    tlsCert: resolveString(c.tlsCert, options.tlsCert, env),
    tlsKey: resolveString(c.tlsKey, options.tlsKey, env),
    inboxPrefix: resolveString(c.inboxPrefix, options.inboxPrefix, env),
  };
}

function serverList(servers: string | string[] | undefined): string[] {
  const list = Array.isArray(servers) ? servers : (servers ?? DEFAULT_SERVERS).split(',');
  const out = list.map((s) => s.trim()).filter((s) => s.length > 0);
  if (out.length === 0) throw new TypeError(`servers must name at least one server, received ${JSON.stringify(servers)}`);
  return out;
}

function readOption(name: string, file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new TypeError(`${name} cannot be read: ${JSON.stringify(file)}`, { cause });
  }
}

/** User nkey seeds are base32 and start with `SU`; anything else is taken as a file name. */
const NKEY_SEED = /^S[UAO][A-Z2-7]{50,}$/;

function nkeySeedOf(value: string): Uint8Array {
  const seed = NKEY_SEED.test(value.trim()) ? value.trim() : new TextDecoder().decode(readOption('nkeySeed', value)).trim();
  if (!NKEY_SEED.test(seed)) throw new TypeError('nkeySeed is not an nkey seed (expected "SU..." or a file holding one)');
  return new TextEncoder().encode(seed);
}

const INBOX_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

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
  if (resolved.credsFile !== undefined && resolved.nkeySeed !== undefined) {
    throw new TypeError('credsFile and nkeySeed are exclusive: a creds file already holds the nkey seed');
  }
  if (resolved.credsFile !== undefined) opts.authenticator = credsAuthenticator(readOption('credsFile', resolved.credsFile));
  if (resolved.nkeySeed !== undefined) opts.authenticator = nkeyAuthenticator(nkeySeedOf(resolved.nkeySeed));
  if ((resolved.tlsCert === undefined) !== (resolved.tlsKey === undefined)) {
    throw new TypeError(`tlsCert and tlsKey go together, received tlsCert=${JSON.stringify(resolved.tlsCert)} tlsKey=${JSON.stringify(resolved.tlsKey)}`);
  }
  if (resolved.tlsCa !== undefined || resolved.tlsCert !== undefined) {
    opts.tls = {};
    // Files are read here so that a wrong path is reported up front, naming the option.
    if (resolved.tlsCa !== undefined) opts.tls.ca = readOption('tlsCa', resolved.tlsCa).toString();
    if (resolved.tlsCert !== undefined) opts.tls.cert = readOption('tlsCert', resolved.tlsCert).toString();
    if (resolved.tlsKey !== undefined) opts.tls.key = readOption('tlsKey', resolved.tlsKey).toString();
  }
  if (resolved.inboxPrefix !== undefined) {
    if (!INBOX_PREFIX.test(resolved.inboxPrefix)) {
      throw new TypeError(`inboxPrefix must be dot-separated tokens without wildcards, received ${JSON.stringify(resolved.inboxPrefix)}`);
    }
    opts.inboxPrefix = resolved.inboxPrefix;
  }
  return { ...opts, ...resolved.nats };
}

/** Opens a connection; a broker that cannot be reached becomes `RpcError('UNAVAILABLE')`. */
export async function openConnection(options: ConnectionOptions): Promise<NatsConnection> {
  const opts = natsOptions(options);
  let nc: NatsConnection;
  try {
    nc = await connect(opts);
  } catch (cause) {
    throw new RpcError('UNAVAILABLE', `cannot connect to NATS at ${String(opts.servers)}: ${(cause as Error).message}`, { cause });
  }
  presizeLongMessages(nc);
  return nc;
}
