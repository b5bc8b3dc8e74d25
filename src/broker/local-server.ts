/**
 * A `nats-server` child process on a free loopback port, for the demo, the tests and the
 * benchmarks. It can be stopped, frozen, killed and restarted on the same port, and it is always
 * killed when the owning process exits, even by SIGKILL (child-watchdog.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dieWithThisProcess } from './child-watchdog.js';
import { requireNatsServer } from './find-nats-server.js';
import { processEnv } from '../options/env.js';

export const READY_TIMEOUT_MS = 10_000;

export interface LocalServerOptions {
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** Configuration file (`-c`). */
  config?: string;
  /** Configuration text, written to a temporary file and used as `-c` (when `config` is unset). */
  configText?: string;
  /** Further command-line arguments. */
  args?: string[];
  /** Environment for the server (config files may read ports from it). */
  env?: Record<string, string>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export class LocalNatsServer {
  readonly port: number;
  readonly #bin: string;
  readonly #opts: LocalServerOptions;
  #child: ChildProcess | null = null;
  #log = '';

  private constructor(bin: string, port: number, opts: LocalServerOptions) {
    this.#bin = bin;
    this.port = port;
    this.#opts = opts;
  }

  /** Starts a server and resolves once it accepts clients. */
  static async start(opts: LocalServerOptions = {}): Promise<LocalNatsServer> {
    const { path } = requireNatsServer();
    const server = new LocalNatsServer(path, opts.port ?? (await freePort()), opts);
    await server.#spawn();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** Resolves with the exit code (or signal) when the running server process ends. */
  exited(): Promise<number | NodeJS.Signals | null> {
    const child = this.#child;
    if (child === null) return Promise.resolve(null);
    return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  }

  /** The server's recent log output. */
  get log(): string {
    return this.#log;
  }

  async #spawn(): Promise<void> {
    const args = ['-a', '127.0.0.1', '-p', String(this.port)];
    const config = this.#opts.config ?? this.#configFile();
    if (config) args.push('-c', config);
    args.push(...(this.#opts.args ?? []));
    const child = spawn(this.#bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...processEnv(), ...this.#opts.env } });
    this.#child = child;
    live.add(child);
    dieWithThisProcess(child);
    child.once('exit', () => {
      live.delete(child);
      if (this.#child === child) this.#child = null;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`nats-server not ready after ${READY_TIMEOUT_MS} ms:\n${this.#log}`)), READY_TIMEOUT_MS);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      child.once('exit', (code) => fail(new Error(`nats-server exited with ${code}:\n${this.#log}`)));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        this.#log = (this.#log + chunk).slice(-20_000);
        if (this.#log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  #configFile(): string | undefined {
    if (this.#opts.configText === undefined) return undefined;
    const dir = mkdtempSync(join(tmpdir(), 'natsrpc-nats-'));
    const file = join(dir, 'nats.conf');
    writeFileSync(file, this.#opts.configText);
    return file;
  }

  /** Sends a signal to the server process (SIGSTOP and SIGCONT freeze and thaw it). */
  signal(sig: NodeJS.Signals): void {
    this.#child?.kill(sig);
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  async stop(sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGCONT');
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** Starts the server again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    this.#log = '';
    await this.#spawn();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop('SIGKILL');
  }
}
