/**
 * The natsrpc command line: one sub-command per file under commands/.
 */
import { RpcError } from '../protocol/errors.js';
import { callCommand } from './commands/call.js';
import { devCommand } from './commands/dev.js';
import { statusCommand } from './commands/status.js';
import { supervisorCommand } from './commands/supervisor.js';
import { workerCommand } from './commands/worker.js';
import { UsageError } from './flags.js';

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  worker: workerCommand,
  call: callCommand,
  dev: devCommand,
  supervisor: supervisorCommand,
  status: statusCommand,
};

const HELP = `Usage: natsrpc <command> [options]

Commands:
  dev                         run the demo on a local broker (npm start)
  worker <file>               run a worker module
  call <service.method> [json]  call a method and print the result
  supervisor                  watch workers, drain sick ones, publish the deadline policy
  status [--json] [--watch]   show the fleet as the leading supervisor sees it

Run "natsrpc <command> --help" for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP + '\n');
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`natsrpc: unknown command ${JSON.stringify(name)}\n\n${HELP}\n`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError || String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`natsrpc ${name}: ${(err as Error).message}\nRun "natsrpc ${name} --help" for usage.\n`);
      return 2;
    }
    if (err instanceof RpcError) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof TypeError) {
      process.stderr.write(`natsrpc ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
// Open handles (a closed connection's timers, pino's stream) must not keep a finished command alive.
setTimeout(() => process.exit(), 200).unref();
