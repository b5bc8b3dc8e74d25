import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { reaching } from '../broker-connection.js';
import { ensureNatsServer } from '../../broker/find-nats-server.js';
import { LocalNatsServer } from '../../broker/local-server.js';
import { connect } from '../../client/client.js';
import { RpcError } from '../../protocol/errors.js';
import { createLogger } from '../../logging/logger.js';
import type { WorkerDefinition } from '../../worker/definition.js';
import { startWorker } from '../../worker/start-worker.js';
import type { RpcWorker } from '../../worker/worker.js';
import { readEnv } from '../../options/env.js';
import { escapeControl, escapeLines } from '../escape.js';
import { CONNECTION_OPTIONS, PROCESS_OPTIONS } from '../../options/table.js';

export const DEV_HELP = `Usage: natsrpc dev [--once]

The demo. Starts a local nats-server on a free port (running scripts/install-nats-server first
when none is found). With NATS_URL set it uses that broker instead, under a subject prefix of its
own (dev-<random>), so its workers never join a real fleet's queue groups there. Starts the example workers
(echo, two math workers, slow), makes a few calls, including failing ones, prints what happened,
then keeps serving until Ctrl-C so you can try "natsrpc call" from another terminal.

Options:
  --once    exit after the calls instead of waiting for Ctrl-C`;

/** The subject prefix of a demo on a shared broker: its own, new each run. */
export function devPrefix(): string {
  return `dev-${randomBytes(4).toString('hex')}`;
}

const line = (s = '') => process.stdout.write(s + '\n');

async function show(label: string, call: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  try {
    const result = await call();
    line(`  ok    ${label.padEnd(44)} -> ${escapeLines(JSON.stringify(result) ?? 'null')}  (${(performance.now() - started).toFixed(1)} ms)`);
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    const kind = err.business ? 'business rejection' : err.retryable ? 'retryable' : 'not retryable';
    line(`  error ${label.padEnd(44)} -> ${escapeControl(err.code)}: ${escapeControl(err.message)}  [${kind}]`);
  }
}

export async function devCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { once: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    line(DEV_HELP);
    return 0;
  }
  let server: LocalNatsServer | null = null;
  let url = readEnv(CONNECTION_OPTIONS.servers.env!);
  let prefix: string | undefined;
  if (url === undefined) {
    const bin = ensureNatsServer();
    server = await LocalNatsServer.start();
    url = server.url;
    line(`Started nats-server v${bin.version} on ${url} (pid ${server.pid})`);
  } else {
    // A broker someone else may use: the demo's workers must not take a real fleet's calls.
    prefix = devPrefix();
    line(`Using the broker at NATS_URL=${url}, under the subject prefix "${prefix}" so that no real service's calls reach the demo workers`);
  }
  const scoped = prefix === undefined ? {} : { prefix };
  const prefixFlag = prefix === undefined ? '' : ` --prefix ${prefix}`;
  const logger = createLogger('natsrpc-dev', readEnv(PROCESS_OPTIONS.logLevel.env!) ?? 'warn');
  const workers: RpcWorker[] = [];
  try {
    const examples = await Promise.all([import('../../../workers/echo.js'), import('../../../workers/math.js'), import('../../../workers/slow.js')]);
    const [echo, math, slow] = examples.map((m): WorkerDefinition => m.default);
    for (const def of [echo!, math!, math!, slow!]) workers.push(await reaching(() => startWorker(def, { servers: url, logger, ...scoped })));
    line(`Started workers: ${workers.map((w) => w.id).join(', ')}`);
    const client = await connect({ servers: url, logger, ...scoped });
    line('\nCalls:');
    await show("echo.echo 'hello'", () => client.call('echo.echo', 'hello'));
    await show('math.add {a:2,b:3}', () => client.call('math.add', { a: 2, b: 3 }));
    await show('math.div {a:1,b:0}', () => client.call('math.div', { a: 1, b: 0 }));
    await show('math.pow {a:2,b:8} (no such method)', () => client.call('math.pow', { a: 2, b: 8 }));
    await show('slow.sleep {ms:50}', () => client.call('slow.sleep', { ms: 50 }));
    await show('slow.sleep {ms:2000} with a 200 ms timeout', () => client.call('slow.sleep', { ms: 2000 }, { timeoutMs: 200 }));
    await show('billing.charge (nobody serves it)', () => client.call('billing.charge', {}));

    const n = 200;
    const sums = await Promise.all(Array.from({ length: n }, (_, i) => client.call<number>('math.add', { a: i, b: 1 })));
    const maths = workers.filter((w) => w.service === 'math');
    line(`\nBalancing: ${n} concurrent math.add calls, ${sums.every((s, i) => s === i + 1) ? 'all correct' : 'WRONG RESULTS'}; ` +
      `served per math worker (queue group "math"): ${maths.map((w) => `${w.id}=${w.stats.ok}`).join(', ')}`);
    await client.close();

    if (!values.once) {
      line(`\nServing on ${url}. Try, from another terminal:\n  NATS_URL=${url} npx natsrpc call math.add '{"a":40,"b":2}'${prefixFlag}\nPress Ctrl-C to stop.`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      line('\nStopping...');
    }
    return 0;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await server?.stop();
  }
}
