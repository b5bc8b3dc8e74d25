import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { WorkerDefinition } from '../../worker/definition.js';
import { startWorker } from '../../worker/start-worker.js';
import { reaching, waitForBroker } from '../broker-connection.js';
import { controlVerifierFrom } from '../control-signing.js';
import { ModuleLoadError } from '../exit-codes.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom, intFlag, optionFlag, UsageError } from '../flags.js';
import { createCliLogger } from '../log-format.js';
import { escapeControl } from '../escape.js';
import { importWorkerModule } from '../worker-module.js';
import { WORKER_OPTIONS } from '../../options/table.js';

/** How long `--wait-for-broker` with no value waits for the broker, in ms. */
export const DEFAULT_WAIT_FOR_BROKER_MS = 30_000;

export const WORKER_HELP = `Usage: natsrpc worker <file> [options]

Runs the worker whose definition is the default export of <file> (TypeScript or JavaScript).
SIGTERM or SIGINT drains it: it leaves the queue group, finishes the calls it holds, and exits 0.

Options:
  --concurrency <n>      handlers in flight at most (default: the definition's, else 64)
  --drain-timeout <ms>   how long a drain waits for handlers (default 10000)
  --max-budget <ms>      the longest deadline granted to one request, whatever its caller asks
                         (default 300000; the supervisor's maximum for the service caps it too)
  --heartbeat <ms>       heartbeat interval (default 1000)
  --watchdog-exit <ms>   exit when the event loop is blocked this long (default 10000; 0 never)
  --wait-for-broker [ms] when the broker cannot be reached yet, keep trying for this long
                         (default ${DEFAULT_WAIT_FOR_BROKER_MS} when given without a value); without
                         it a worker that cannot connect exits 3 at once
  --trusted-key <key>    obey only control commands signed by this nkey public key (repeatable)
                         env NATSRPC_TRUSTED_KEYS (comma-separated)
A "shutdown" control command from the supervisor drains the worker and exits 0.
Logs are JSON lines, or one readable line per entry when stdout is a terminal.
Exit codes: 1 the module failed to load (its error and stack on stderr) or the connection was
lost, 2 usage error, 3 broker unreachable.
${CONNECTION_HELP}`;

/**
 * Loads a worker module and returns its default export, checked to look like a definition. A
 * file that does not exist is a usage error; a module that fails to load (syntax error, missing
 * package, a throw at top level) is the module's error, kept with its stack.
 */
export async function loadDefinition(file: string): Promise<WorkerDefinition> {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`no such worker module: ${file}`);
  let mod: { default?: unknown };
  try {
    mod = await importWorkerModule(file);
  } catch (err) {
    throw new ModuleLoadError(`worker module ${file} failed to load: ${String((err as Error)?.message ?? err)}`, { cause: err });
  }
  const def = mod.default as WorkerDefinition | undefined;
  if (typeof def !== 'object' || def === null || typeof def.service !== 'string' || typeof def.methods !== 'object') {
    throw new ModuleLoadError(`${file} must default-export a worker definition (defineWorker({...}))`);
  }
  return def;
}

/**
 * `--wait-for-broker` takes an optional value (ms), which parseArgs cannot express: a bare flag
 * becomes `--wait-for-broker=<default>`, and a following number is taken as its value.
 */
export function normalizeWaitFlag(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg !== '--wait-for-broker') out.push(arg);
    else if (/^\d+$/.test(argv[i + 1] ?? '')) out.push(`--wait-for-broker=${argv[++i]}`);
    else out.push(`--wait-for-broker=${DEFAULT_WAIT_FOR_BROKER_MS}`);
  }
  return out;
}

export async function workerCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: normalizeWaitFlag(argv),
    allowPositionals: true,
    options: {
      ...CONNECTION_FLAGS,
      'wait-for-broker': { type: 'string' },
      concurrency: { type: 'string' },
      'drain-timeout': { type: 'string' },
      'max-budget': { type: 'string' },
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
  const waitMs = values['wait-for-broker'] === undefined ? undefined : intFlag('wait-for-broker', values['wait-for-broker']);
  const logger = createCliLogger('natsrpc-worker');
  const connection = connectionFrom(values);
  if (waitMs !== undefined) {
    await waitForBroker(connection, waitMs, (reason) => logger.warn({ reason, waitMs }, 'waiting for the broker'));
  }
  let shutdown: () => void = () => undefined;
  const worker = await reaching(() => startWorker(definition, {
    ...connection,
    logger,
    ...(values.prefix ? { prefix: values.prefix } : {}),
    concurrency: optionFlag(WORKER_OPTIONS.concurrency, values.concurrency),
    drainTimeoutMs: optionFlag(WORKER_OPTIONS.drainTimeoutMs, values['drain-timeout']),
    maxBudgetMs: optionFlag(WORKER_OPTIONS.maxBudgetMs, values['max-budget']),
    heartbeatIntervalMs: optionFlag(WORKER_OPTIONS.heartbeatIntervalMs, values.heartbeat),
    watchdogExitMs: optionFlag(WORKER_OPTIONS.watchdogExitMs, values['watchdog-exit']),
    onShutdown: () => shutdown(),
    ...(verifyControl ? { verifyControl } : {}),
  }));
  const nc = worker.connection;
  logger.info({ server: nc.getServer(), serverId: nc.info?.server_id, serverName: nc.info?.server_name, workerId: worker.id }, 'connected to NATS');
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
        process.stderr.write(`connection to NATS closed${err ? `: ${escapeControl(err.message)}` : ''}\n`);
        done(1);
      }
    });
  });
}
