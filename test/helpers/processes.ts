/**
 * Worker and CLI child processes for tests. Every process started here is killed when the test
 * process exits, even when the test runner kills it (SIGKILL included: child-watchdog.ts), and
 * `await using` kills it as soon as the test is done, pass or fail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { dieWithThisProcess } from '../../src/broker/child-watchdog.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** How tests start the CLI: node with these arguments, from ROOT. */
export const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
/** How tests start a TypeScript script of their own: `new ChildHandle([file, ...args], env, SCRIPT)`. */
export const SCRIPT = ['--import', 'tsx'];

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ChildHandle {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<Exit>;

  /**
   * `env` adds to the test's environment; an undefined value removes that variable. `node` is what
   * runs `args`: the CLI, or `SCRIPT` for a script of its own (a fixture).
   */
  constructor(args: string[], env: Record<string, string | undefined> = {}, node: readonly string[] = CLI) {
    const merged: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: 'info', ...env };
    for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
    this.child = spawn(process.execPath, [...node, ...args], {
      cwd: ROOT,
      env: merged,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(this.child);
    dieWithThisProcess(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        resolve({ code, signal });
      });
    });
    createInterface({ input: this.child.stdout! }).on('line', (l) => this.lines.push(l));
    createInterface({ input: this.child.stderr! }).on('line', (l) => this.stderr.push(l));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves with the first stdout line matching `pattern`, or rejects on exit or timeout. */
  async waitForLine(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    while (Date.now() < deadline) {
      for (; seen < this.lines.length; seen++) if (pattern.test(this.lines[seen]!)) return this.lines[seen]!;
      if (this.child.exitCode !== null || this.child.signalCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no line matching ${pattern} (exit ${this.child.exitCode}):\n${[...this.lines, ...this.stderr].slice(-20).join('\n')}`);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGCONT');
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }
}

/** Starts `natsrpc worker <file>` and resolves once it is subscribed. */
export async function spawnWorker(file: string, servers: string, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<ChildHandle> {
  const handle = new ChildHandle(['worker', file, '--servers', servers, ...args], env);
  try {
    await handle.waitForLine(/"msg":"worker ready"/);
  } catch (err) {
    await handle[Symbol.asyncDispose]();
    throw err;
  }
  return handle;
}

/** Runs a CLI command to completion. */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  await using handle = new ChildHandle(args, env);
  const timer = setTimeout(() => handle.signal('SIGKILL'), timeoutMs);
  const { code } = await handle.exited;
  clearTimeout(timer);
  // readline may still hold the last lines for a tick after exit
  await new Promise((r) => setImmediate(r));
  return { code, stdout: handle.lines.join('\n'), stderr: handle.stderr.join('\n') };
}

/**
 * A list of child processes all killed when the scope ends, pass or fail:
 * `await using workers = processGroup(); workers.push(await spawnWorker(...))`.
 */
export function processGroup(): ChildHandle[] & AsyncDisposable {
  const handles: ChildHandle[] = [];
  return Object.assign(handles, {
    [Symbol.asyncDispose]: async () => {
      await Promise.all(handles.map((h) => h[Symbol.asyncDispose]()));
    },
  });
}

/** The "workerId" of a worker process, read from its ready line. */
export function workerIdOf(handle: ChildHandle): string {
  const line = handle.lines.find((l) => l.includes('"worker ready"'));
  return line ? (JSON.parse(line) as { workerId: string }).workerId : '';
}
