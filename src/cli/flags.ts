/**
 * Flags shared by the commands that connect to NATS, and the usage error every command throws.
 */
import type { ConnectionOptions } from '../connection/options.js';
import { numberFromText, type NumberOption } from '../options/resolve.js';
import { CONNECTION_OPTIONS } from '../options/table.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const CONNECTION_FLAGS = {
  servers: { type: 'string' },
  user: { type: 'string' },
  pass: { type: 'string' },
  token: { type: 'string' },
  creds: { type: 'string' },
  nkey: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'inbox-prefix': { type: 'string' },
  prefix: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const CONNECTION_HELP = `Connection (flags override the environment):
  --servers <urls>   comma-separated NATS URLs           env NATS_URL (default 127.0.0.1:4222)
  --user <name>      user name                           env NATS_USER
  --pass <secret>    password                            env NATS_PASS
  --token <secret>   token                               env NATS_TOKEN
  --creds <file>     credentials file (JWT + nkey seed)  env NATS_CREDS
  --nkey <file>      file holding an nkey seed           env NATS_NKEY_SEED (the seed or its file)
  --tls-ca <file>    CA certificate (PEM) to verify the server   env NATS_TLS_CA
  --tls-cert <file>  client certificate (PEM)            env NATS_TLS_CERT
  --tls-key <file>   client certificate key (PEM)        env NATS_TLS_KEY
  --inbox-prefix <p> reply subject prefix (default _INBOX)  env NATS_INBOX_PREFIX
  --prefix <p>       subject prefix (default rpc)`;

interface ConnectionFlagValues {
  servers?: string;
  user?: string;
  pass?: string;
  token?: string;
  creds?: string;
  nkey?: string;
  'tls-ca'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  'inbox-prefix'?: string;
}

/** The connection options the flags give, by the rows of the options table (flag → option). */
export function connectionFrom(values: ConnectionFlagValues): ConnectionOptions {
  const given = values as Readonly<Record<string, string | undefined>>;
  const out: Record<string, string> = {};
  for (const spec of Object.values(CONNECTION_OPTIONS)) {
    const value = given[spec.flag!];
    if (value !== undefined) out[spec.name] = value;
  }
  return out as ConnectionOptions;
}

/**
 * Parses the flag of a number option from the options table (options/table.ts): same bounds as
 * the option itself; a bad value is a UsageError naming the flag, the option and the value.
 */
export function optionFlag(spec: NumberOption & { flag?: string }, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return numberFromText(spec, value, `--${spec.flag ?? spec.name}`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Parses a positive integer flag that is not an option of the library; throws a UsageError naming it. */
export function intFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, received ${JSON.stringify(value)}`);
  return n;
}
