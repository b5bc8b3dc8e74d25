/**
 * The main-thread side of the watchdog: starts the thread that publishes heartbeats and watches
 * the event loop, marks the loop's progress in shared memory, and answers the thread's requests
 * for fresh heartbeat figures.
 */
import { Worker } from 'node:worker_threads';
import { RpcError } from '../protocol/errors.js';
import type { ConnectionOptions } from '../connection/options.js';
import type { Logger } from '../logging/logger.js';
import type { HeartbeatSource } from './heartbeat-source.js';
import type { FromThread, ToThread, WatchdogData } from './watchdog-thread.js';

/** How often the main loop marks its progress. */
export const PROGRESS_TICK_MS = 50;
export const WATCHDOG_READY_TIMEOUT_MS = 10_000;
/**
 * Early heartbeats (a change of state, a fault streak) go out at most this often; one asked for
 * sooner is sent when the gap is over, carrying the figures of that moment.
 */
export const MIN_EARLY_HEARTBEAT_GAP_MS = 20;
/** How long the final heartbeat may take when the worker stops. */
export const FINAL_HEARTBEAT_TIMEOUT_MS = 2_000;

/**
 * The thread's module sits beside this one: watchdog-thread.js in the compiled package, which
 * loads as plain JavaScript. Only when natsrpc runs from its own TypeScript sources (its tests and
 * benchmarks, under tsx) is the thread's module a .ts file; Node 20 does not carry the main
 * thread's loader hooks into worker threads, so that thread registers tsx (a development
 * dependency) itself before loading it.
 */
function threadEntry(): { entry: string | URL; evaluate: boolean } {
  const fromSource = import.meta.url.endsWith('.ts');
  const module = new URL(fromSource ? './watchdog-thread.ts' : './watchdog-thread.js', import.meta.url);
  if (!fromSource) return { entry: module, evaluate: false };
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); })`;
  return { entry: boot, evaluate: true };
}

export interface WatchdogConfig {
  subject: string;
  intervalMs: number;
  exitAfterMs: number;
  connection: ConnectionOptions;
  source: HeartbeatSource;
  logger: Logger;
}

export class Watchdog {
  readonly #thread: Worker;
  readonly #source: HeartbeatSource;
  readonly #progress = new Float64Array(new SharedArrayBuffer(8));
  readonly #tick: NodeJS.Timeout;
  readonly #log: Logger;
  #stopping: Promise<void> | null = null;
  #closed: (() => void) | null = null;
  #lastEarly = -Infinity;
  #earlyTimer: NodeJS.Timeout | null = null;

  private constructor(config: WatchdogConfig) {
    this.#source = config.source;
    this.#log = config.logger;
    this.#progress[0] = Date.now();
    this.#tick = setInterval(() => (this.#progress[0] = Date.now()), PROGRESS_TICK_MS);
    this.#tick.unref();
    const data: WatchdogData = {
      subject: config.subject,
      intervalMs: config.intervalMs,
      exitAfterMs: config.exitAfterMs,
      progress: this.#progress.buffer as SharedArrayBuffer,
      connection: config.connection,
      first: config.source.collect(),
    };
    const { entry, evaluate } = threadEntry();
    this.#thread = new Worker(entry, { eval: evaluate, workerData: data });
    this.#thread.unref();
    this.#thread.on('message', (msg: FromThread) => {
      if (msg.type === 'collect') this.#post({ type: 'snapshot', body: this.#source.collect() });
      else if (msg.type === 'error') this.#log.warn({ reason: msg.message }, 'heartbeat problem');
      else if (msg.type === 'closed') this.#closed?.();
    });
    this.#thread.on('error', (err) => this.#log.error({ err }, 'watchdog thread failed'));
  }

  /** Starts the thread and resolves once its first heartbeat is out. */
  static async start(config: WatchdogConfig): Promise<Watchdog> {
    const dog = new Watchdog(config);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`watchdog thread not ready after ${WATCHDOG_READY_TIMEOUT_MS} ms`)), WATCHDOG_READY_TIMEOUT_MS);
      const onMessage = (msg: FromThread) => {
        if (msg.type !== 'ready' && msg.type !== 'failed') return;
        clearTimeout(timer);
        dog.#thread.off('message', onMessage);
        if (msg.type === 'ready') resolve();
        else {
          const hint = "the heartbeat thread connects with the worker's own settings (servers, credentials, TLS files): pass them, or start the worker with heartbeat: false";
          reject(new RpcError('UNAVAILABLE', `${msg.message}; ${hint}`));
        }
      };
      dog.#thread.on('message', onMessage);
      dog.#thread.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    }).catch(async (err: unknown) => {
      await dog.#terminate();
      throw err;
    });
    return dog;
  }

  /**
   * Sends a heartbeat now, out of schedule, marked `early`: rate-limited to one per
   * {@link MIN_EARLY_HEARTBEAT_GAP_MS}, requests in between coalesced into one sent after the gap.
   */
  beatNow(): void {
    if (this.#stopping !== null || this.#earlyTimer !== null) return;
    const wait = this.#lastEarly + MIN_EARLY_HEARTBEAT_GAP_MS - performance.now();
    if (wait > 0) {
      this.#earlyTimer = setTimeout(() => {
        this.#earlyTimer = null;
        this.beatNow();
      }, wait);
      this.#earlyTimer.unref();
      return;
    }
    this.#lastEarly = performance.now();
    this.#post({ type: 'early', body: this.#source.collect(true) });
  }

  /** Sends the final heartbeat (bounded), then ends the thread. Calling it again returns the same promise. */
  stop(reason: string): Promise<void> {
    this.#stopping ??= this.#stop(reason);
    return this.#stopping;
  }

  async #stop(reason: string): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FINAL_HEARTBEAT_TIMEOUT_MS);
      this.#closed = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#post({ type: 'final', body: this.#source.collect(), reason });
    });
    await this.#terminate();
  }

  async #terminate(): Promise<void> {
    clearInterval(this.#tick);
    if (this.#earlyTimer !== null) clearTimeout(this.#earlyTimer);
    this.#source.close();
    await this.#thread.terminate().catch(() => undefined);
  }

  #post(msg: ToThread): void {
    try {
      this.#thread.postMessage(msg);
    } catch (err) {
      this.#log.warn({ err }, 'watchdog thread unreachable');
    }
  }
}
