/**
 * `natsrpc broker`: a local nats-server with the shipped configuration (config/nats-server.conf),
 * in the foreground, on the port clients dial by default, so the README's examples run as written.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureNatsServer, PROJECT_ROOT } from '../../broker/find-nats-server.js';
import { LocalNatsServer } from '../../broker/local-server.js';
import { resolveNumber } from '../../options/resolve.js';
import { DEFAULT_BROKER_PORT, PROCESS_OPTIONS } from '../../options/table.js';
import { optionFlag, UsageError } from '../flags.js';

export const BROKER_CONFIG = join(PROJECT_ROOT, 'config', 'nats-server.conf');

export const BROKER_HELP = `Usage: natsrpc broker [--port <n>] [--config <file>]

Runs a local nats-server on 127.0.0.1 with natsrpc's configuration (config/nats-server.conf:
frozen clients cut within ~3 s) until Ctrl-C. For development and examples: it has no accounts,
so any local process may publish anything, control commands included (the demo is unsigned, and
on loopback only); production brokers are described in docs/deployment.md. Finds nats-server through NATS_SERVER_BIN, .nats-server/ or
PATH (running scripts/install-nats-server when none is found, in a clone of the repository).

Options:
  --port <n>         port to listen on (default ${DEFAULT_BROKER_PORT})   env NATS_PORT
  --config <file>    another nats-server configuration file`;

export async function brokerCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { port: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(BROKER_HELP + '\n');
    return 0;
  }
  if (positionals.length > 0) throw new UsageError('takes no arguments');
  const port = resolveNumber(PROCESS_OPTIONS.brokerPort, optionFlag(PROCESS_OPTIONS.brokerPort, values.port));
  const config = values.config ?? BROKER_CONFIG;
  const bin = ensureNatsServer();
  let server: LocalNatsServer;
  try {
    server = await LocalNatsServer.start({ port, config });
  } catch (err) {
    process.stderr.write(`natsrpc broker: nats-server did not start on port ${port}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`nats-server v${bin.version} listening on ${server.url} (config ${config}, pid ${server.pid}). Ctrl-C stops it.\n`);
  const stopped = new Promise<'signal'>((resolve) => {
    process.once('SIGINT', () => resolve('signal'));
    process.once('SIGTERM', () => resolve('signal'));
  });
  const outcome = await Promise.race([stopped, server.exited()]);
  if (outcome === 'signal') {
    await server.stop();
    return 0;
  }
  process.stderr.write(`natsrpc broker: nats-server exited (${String(outcome)}):\n${server.log}\n`);
  return 1;
}
