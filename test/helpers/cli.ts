/**
 * Runs the CLI as a shell would: a spawned process with real stdin, stdout and stderr pipes.
 * The process is killed after `timeoutMs`, and when the test process exits.
 */
import { spawn } from 'node:child_process';
import { dieWithThisProcess } from '../../src/broker/child-watchdog.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT } from './processes.js';

/** The CLI's node arguments made independent of the working directory. */
export const CLI_ARGS: readonly string[] = CLI.map((arg, i) =>
  CLI[i - 1] === '--import' ? import.meta.resolve(arg) : existsSync(join(ROOT, arg)) ? join(ROOT, arg) : arg);

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout as bytes (`--raw` writes bytes). */
  stdoutBytes: Buffer;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

export interface CliInvocation {
  args: string[];
  /** Written to stdin, which is then closed; when absent stdin is /dev/null. */
  input?: string | Uint8Array;
  /** Adds to the test's environment; an undefined value removes that variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
}

export async function runCliProcess({ args, input, env = {}, cwd = ROOT, timeoutMs = 30_000 }: CliInvocation): Promise<CliRun> {
  const merged: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: 'warn', ...env };
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  const started = performance.now();
  const child = spawn(process.execPath, [...CLI_ARGS, ...args], {
    cwd,
    env: merged,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  dieWithThisProcess(child);
  const timer = setTimeout(kill, timeoutMs);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  if (input !== undefined) {
    child.stdin!.on('error', () => undefined); // the CLI may exit before reading it all
    child.stdin!.end(input);
  }
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  process.removeListener('exit', kill);
  const stdoutBytes = Buffer.concat(out);
  return { code, signal, stdoutBytes, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), elapsedMs: performance.now() - started };
}
