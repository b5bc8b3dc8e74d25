import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { WorkerDefinition } from '../../worker/definition.js';
import { startWorker } from '../../worker/start-worker.js';
import { controlVerifierFrom } from '../control-signing.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom, optionFlag, UsageError } from '../flags.js';
import { WORKER_OPTIONS } from '../../options/table.js';

export const WORKER_HELP = `Usage: natsrpc worker <file> [options]

Runs the worker whose definition is the default export of <file> (TypeScript or JavaScript).
SIGTERM or SIGINT drains it: it leaves the queue group, finishes the calls it holds, and exits 0.

Options:
  --concurrency <n>      handlers in flight at most (default: the definition's, else 64)
  --drain-timeout <ms>   how long a drain waits for handlers (default 10000)
  --heartbeat <ms>       heartbeat interval (default 1000)
  --watchdog-exit <ms>   exit when the event loop is blocked this long (default 10000; 0 never)
  --trusted-key <key>    obey only control commands signed by this nkey public key (repeatable)
                         env NATSRPC_TRUSTED_KEYS (comma-separated)
A "shutdown" control command from the supervisor drains the worker and exits 0.
${CONNECTION_HELP}`;

/** Loads a worker module and returns its default export, checked to look like a definition. */
export async function loadDefinition(file: string): Promise<WorkerDefinition> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown };
  } catch (err) {
    throw new UsageError(`cannot load worker module ${file}: ${(err as Error).message}`);
  }
  const def = mod.default as WorkerDefinition | undefined;
  if (typeof def !== 'object' || def === null || typeof def.service !== 'string' || typeof def.methods !== 'object') {
    throw new UsageError(`${file} must default-export a worker definition (defineWorker({...}))`);
  }
  return def;
}

export async function workerCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CONNECTION_FLAGS,
      concurrency: { type: 'string' },
      'drain-timeout': { type: 'string' },
      heartbeat: { type: 'string' },
      'watchdog-exit': { type: 'string' },
      'trusted-key': { type: 'string', multiple: true },
    },
  });
  if (values.help) {
    process.stdout.write(WORKER_HELP + '\n');
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('expected exactly one worker file');
  const definition = await loadDefinition(positionals[0]!);
  const verifyControl = controlVerifierFrom(values['trusted-key']);
  let shutdown: () => void = () => undefined;
  const worker = await startWorker(definition, {
    ...connectionFrom(values),
    ...(values.prefix ? { prefix: values.prefix } : {}),
    concurrency: optionFlag(WORKER_OPTIONS.concurrency, values.concurrency),
    drainTimeoutMs: optionFlag(WORKER_OPTIONS.drainTimeoutMs, values['drain-timeout']),
    heartbeatIntervalMs: optionFlag(WORKER_OPTIONS.heartbeatIntervalMs, values.heartbeat),
    watchdogExitMs: optionFlag(WORKER_OPTIONS.watchdogExitMs, values['watchdog-exit']),
    onShutdown: () => shutdown(),
    ...(verifyControl ? { verifyControl } : {}),
  });
  return new Promise<number>((done) => {
    shutdown = () => done(0);
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) done(1); // a second signal means: stop now
      else worker.stop().then(() => done(0), () => done(1));
      void sig;
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    void worker.connection.closed().then((err) => {
      if (worker.state !== 'stopped' && signals === 0) {
        process.stderr.write(`connection to NATS closed${err ? `: ${err.message}` : ''}\n`);
        done(1);
      }
    });
  });
}
