/**
 * The benchmark's processes talk over Node's IPC channel: the orchestrator sends `{ id, cmd, arg }`
 * and the child answers `{ id, result }` or `{ id, error }`. A child exits when its parent goes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process driven over IPC. */
export class BenchChild {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  /** Resolves once the child has set up and serves commands; rejects if it exits first. */
  readonly ready: Promise<void>;
  readonly #calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #seq = 0;
  #stderr = '';

  constructor(file: string, config: unknown, execArgv: string[] = []) {
    const path = fileURLToPath(new URL(`../proc/${file}`, import.meta.url));
    this.child = fork(path, [JSON.stringify(config)], {
      execArgv: ['--import', 'tsx', ...execArgv],
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    live.add(this.child);
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.#stderr = (this.#stderr + s).slice(-4_000);
    });
    let ready!: () => void;
    let failed!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      ready = resolve;
      failed = reject;
    });
    this.ready.catch(() => undefined);
    this.child.on('message', (m: { id: number; result?: unknown; error?: string; ready?: boolean }) => {
      if (m.ready === true) ready();
      const call = this.#calls.get(m.id);
      if (call === undefined) return;
      this.#calls.delete(m.id);
      if (m.error !== undefined) call.reject(new Error(m.error));
      else call.resolve(m.result);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        failed(new Error(`${file} exited (${code ?? signal}) before it was ready: ${this.#stderr}`));
        for (const call of this.#calls.values()) call.reject(new Error(`${file} exited (${code ?? signal}): ${this.#stderr}`));
        this.#calls.clear();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends a command and resolves with the child's answer. */
  request<T = unknown>(cmd: string, arg?: unknown, timeoutMs = 120_000): Promise<T> {
    const id = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id);
        reject(new Error(`${cmd} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#calls.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, cmd, arg });
    });
  }

  kill(sig: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
  }

  /** Asks the child to stop cleanly, then kills it if it has not exited within 5 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.request('exit', undefined, 5_000).catch(() => undefined);
    const timer = setTimeout(() => this.kill(), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Stops every child, in parallel. */
export async function stopAll(children: BenchChild[]): Promise<void> {
  await Promise.all(children.map((c) => c.stop()));
}

type Handlers = Record<string, (arg: any) => unknown>;

/** Child side: answers the orchestrator's commands; `exit` runs `onExit` and exits 0. */
export function serveCommands(handlers: Handlers, onExit: () => Promise<void>): void {
  process.on('disconnect', () => {
    void onExit().finally(() => process.exit(0));
  });
  process.on('message', async (m: { id: number; cmd: string; arg: unknown }) => {
    if (m.cmd === 'exit') {
      await onExit().catch(() => undefined);
      process.send?.({ id: m.id, result: null }, () => process.exit(0));
      return;
    }
    const handler = handlers[m.cmd];
    try {
      if (handler === undefined) throw new Error(`unknown command ${m.cmd}`);
      const result = await handler(m.arg);
      process.send?.({ id: m.id, result: result ?? null });
    } catch (err) {
      process.send?.({ id: m.id, error: (err as Error).stack ?? String(err) });
    }
  });
  process.send?.({ ready: true });
}
