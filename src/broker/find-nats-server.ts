/**
 * Finding a usable `nats-server` binary for the demo, the tests and the benchmarks:
 * `NATS_SERVER_BIN`, then the project's `.nats-server/` folder (where scripts/install-nats-server
 * puts it), then PATH. Versions below 2.10 are refused: they cannot kick a client and never
 * detect a frozen client that is still being sent messages.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readEnv } from '../options/env.js';
import { resolveString } from '../options/resolve.js';
import { PROCESS_OPTIONS } from '../options/table.js';

export const MIN_NATS_SERVER = [2, 10] as const;

/** The folder holding natsrpc's package.json: this file runs from src/broker or dist/src/broker. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const PROJECT_ROOT = packageRoot();
export const INSTALL_SCRIPT = join(PROJECT_ROOT, 'scripts', 'install-nats-server');
export const LOCAL_BIN = join(PROJECT_ROOT, '.nats-server', 'nats-server');

export interface NatsServerBinary {
  path: string;
  version: string;
}

/** Parses `nats-server --version` output; returns the version or null. */
export function parseVersion(output: string): string | null {
  return /v?(\d+\.\d+\.\d+)/.exec(output)?.[1] ?? null;
}

export function isSupported(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > MIN_NATS_SERVER[0] || (major === MIN_NATS_SERVER[0] && minor >= MIN_NATS_SERVER[1]);
}

function versionOf(path: string): string | null {
  try {
    return parseVersion(execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 5_000 }));
  } catch {
    return null;
  }
}

function onPath(name: string): string | null {
  for (const dir of (readEnv('PATH') ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** What was looked at and why it was refused, for the error message. */
export function describeSearch(): string {
  const seen: string[] = [];
  for (const [label, path] of candidates()) {
    const version = versionOf(path);
    seen.push(`${label} ${path}: ${version === null ? 'does not run' : `v${version}${isSupported(version) ? '' : ' (too old)'}`}`);
  }
  return seen.length === 0 ? 'no nats-server found (NATS_SERVER_BIN, .nats-server/, PATH)' : seen.join('; ');
}

function candidates(): Array<[string, string]> {
  const list: Array<[string, string]> = [];
  const bin = resolveString(PROCESS_OPTIONS.natsServerBin, undefined);
  if (bin !== undefined) list.push(['NATS_SERVER_BIN', bin]);
  if (existsSync(LOCAL_BIN)) list.push(['project', LOCAL_BIN]);
  const path = onPath('nats-server');
  if (path !== null) list.push(['PATH', path]);
  return list;
}

/** The first supported binary, or null. */
export function findNatsServer(): NatsServerBinary | null {
  for (const [, path] of candidates()) {
    const version = versionOf(path);
    if (version !== null && isSupported(version)) return { path, version };
  }
  return null;
}

/** The first supported binary; throws an Error that says what was found and how to install one. */
export function requireNatsServer(): NatsServerBinary {
  const found = findNatsServer();
  if (found !== null) return found;
  throw new Error(
    `nats-server ${MIN_NATS_SERVER.join('.')} or newer is required (${describeSearch()}). ` +
      `Run scripts/install-nats-server, or install it and set NATS_SERVER_BIN.`,
  );
}

/** Finds a binary, running scripts/install-nats-server once when none is found. */
export function ensureNatsServer(log: (line: string) => void = (l) => process.stderr.write(l + '\n')): NatsServerBinary {
  const found = findNatsServer();
  if (found !== null) return found;
  log(`No usable nats-server (${describeSearch()}); running scripts/install-nats-server...`);
  try {
    execFileSync('bash', [INSTALL_SCRIPT], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  } catch {
    // requireNatsServer below says what is missing.
  }
  return requireNatsServer();
}
