/**
 * The README's code examples as a test runs them: each fenced block is named by a
 * `<!-- readme-test: <name> -->` line just above it; TypeScript blocks hold files (each begins
 * with a `// <path>` line), shell blocks hold commands run one by one in a scratch app.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dieWithThisProcess } from '../../src/broker/child-watchdog.js';
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI_ARGS } from './cli.js';
import { ROOT } from './processes.js';

export interface ReadmeBlock {
  /** From the marker line; null when the block has none. */
  name: string | null;
  lang: string;
  body: string;
  /** 1-based line of the opening fence. */
  line: number;
}

const MARKER = /^<!-- readme-test: ([a-z0-9-]+) -->$/;

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    let end = i + 1;
    while (end < lines.length && lines[end] !== '```') end++;
    let prev = i - 1;
    while (prev >= 0 && lines[prev]!.trim() === '') prev--;
    const marker = prev >= 0 ? MARKER.exec(lines[prev]!.trim()) : null;
    blocks.push({ name: marker?.[1] ?? null, lang: open[1]!, body: lines.slice(i + 1, end).join('\n'), line: i + 1 });
    i = end;
  }
  return blocks;
}

/** A TypeScript block's files: each starts at a `// <path>` line (text after a colon is a comment). */
export function filesOf(block: ReadmeBlock): Map<string, string> {
  const files = new Map<string, string>();
  let current: string | null = null;
  for (const line of block.body.split('\n')) {
    const header = /^\/\/ ([\w./-]+\.(?:ts|js|mjs|json))(?::.*)?$/.exec(line);
    if (header !== null) {
      current = header[1]!;
      files.set(current, '');
    } else if (current !== null) {
      files.set(current, files.get(current)! + line + '\n');
    } else if (line.trim() !== '') {
      throw new Error(`README line ${block.line}: code before the first "// <file>" line`);
    }
  }
  return files;
}

/** A shell block's commands: one per non-empty line, comments left to the shell. */
export function commandsOf(block: ReadmeBlock): string[] {
  return block.body.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A scratch app where the examples run as a user's would: `natsrpc` (the package, resolved to
 * this checkout's sources, and its `natsrpc` bin), `zod` and `tsx` in its node_modules.
 */
export function scratchApp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'natsrpc-readme-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'readme-app', private: true, type: 'module' }, null, 2));
  const pkg = join(dir, 'node_modules', 'natsrpc');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'natsrpc', type: 'module', exports: { '.': './index.ts' } }));
  writeFileSync(join(pkg, 'index.ts'), `export * from ${JSON.stringify(pathToFileURL(join(ROOT, 'src', 'index.ts')).href)};\n`);
  symlinkSync(join(ROOT, 'node_modules', 'zod'), join(dir, 'node_modules', 'zod'), 'dir');
  const bin = join(dir, 'node_modules', '.bin');
  mkdirSync(bin);
  symlinkSync(realpathSync(join(ROOT, 'node_modules', '.bin', 'tsx')), join(bin, 'tsx'));
  const natsrpc = join(bin, 'natsrpc');
  writeFileSync(natsrpc, `#!/bin/sh\nexec ${[process.execPath, ...CLI_ARGS].map(shellQuote).join(' ')} "$@"\n`, { mode: 0o755 });
  return dir;
}

export function writeFiles(dir: string, files: Map<string, string>): void {
  for (const [path, text] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

export interface CommandRun {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one command line with bash in `cwd` to its end (killed, with its group, after `timeoutMs`). */
export function runCommand(command: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<CommandRun> {
  const child = spawn('bash', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  dieWithThisProcess(child, true);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ command, code, stdout, stderr });
    });
  });
}

/** A command that keeps running (a broker, a worker...), killed with its process group on dispose. */
export class BackgroundCommand {
  readonly command: string;
  readonly #child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  constructor(command: string, cwd: string, env: NodeJS.ProcessEnv) {
    this.command = command;
    this.#child = spawn('bash', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    dieWithThisProcess(this.#child, true);
    for (const stream of [this.#child.stdout!, this.#child.stderr!]) stream.setEncoding('utf8').on('data', (c: string) => (this.output = (this.output + c).slice(-20_000)));
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
    live.add(this.#child);
    void this.exited.then(() => live.delete(this.#child));
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.running) return;
    killGroup(this.#child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(this.#child, 'SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});

/** Signals the process group the child leads (bash, npx and the node process it starts). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}
