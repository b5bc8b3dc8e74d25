/**
 * The natsrpc command line: one sub-command per file under commands/.
 */
import { EXIT_USAGE, reportError } from './exit-codes.js';
import { packageVersion } from './version.js';

type Command = (argv: string[]) => Promise<number>;

/**
 * Each command is loaded when it runs, so a worker process does not load the dashboard, the
 * supervisor or the broker launcher (start-up time and memory of every CLI process).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  worker: async () => (await import('./commands/worker.js')).workerCommand,
  call: async () => (await import('./commands/call.js')).callCommand,
  dev: async () => (await import('./commands/dev.js')).devCommand,
  supervisor: async () => (await import('./commands/supervisor.js')).supervisorCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  dashboard: async () => (await import('./commands/dashboard.js')).dashboardCommand,
  ls: async () => (await import('./commands/discover.js')).lsCommand,
  info: async () => (await import('./commands/discover.js')).infoCommand,
  stats: async () => (await import('./commands/discover.js')).statsCommand,
  broker: async () => (await import('./commands/broker.js')).brokerCommand,
  'signing-key': async () => (await import('./commands/signing-key.js')).signingKeyCommand,
};

const HELP = `Usage: natsrpc <command> [options]

Commands:
  dev                         run the demo on a local broker (npm start)
  broker [--port n]           run a local nats-server with natsrpc's configuration (default port 4222)
  worker <file>               run a worker module
  call <service.method> [payload]  call a method and print the result (payload: JSON, - or @file)
  ls [--json]                 list the workers that answer service discovery ($SRV)
  info <service> [--json]     a service's workers and endpoints
  stats [service] [--json]    request and error counters per worker and endpoint
  supervisor                  watch workers, drain sick ones, publish the deadline policy
  status [--json] [--watch]   show the fleet as the leading supervisor sees it
  dashboard [--port 8080]     serve a live web page of the fleet (127.0.0.1 by default)
  signing-key [--env-file f]  make the key pair that signs control commands (supervisor, workers)

Options:
  --version, -v               print the version of natsrpc

Run "natsrpc <command> --help" for a command's options.
Exit codes: 0 ok, 1 the call (or worker module) failed, 2 usage error, 3 broker unreachable.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP + '\n');
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(packageVersion() + '\n');
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load === undefined) {
    process.stderr.write(`natsrpc: unknown command ${JSON.stringify(name)}\n\n${HELP}\n`);
    return EXIT_USAGE;
  }
  try {
    const command = await load();
    return await command(rest);
  } catch (err) {
    return reportError(name, err);
  }
}

process.exitCode = await main(process.argv.slice(2));
// Open handles (a closed connection's timers, pino's stream) must not keep a finished command alive.
setTimeout(() => process.exit(), 200).unref();
