import { parseArgs } from 'node:util';
import { startDashboard } from '../../dashboard/dashboard.js';
import { DASHBOARD_OPTIONS, DEFAULT_DASHBOARD_HOST, DEFAULT_DASHBOARD_PORT } from '../../options/table.js';
import { reaching } from '../broker-connection.js';
import { commandSignerFrom } from '../control-signing.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom, optionFlag, UsageError } from '../flags.js';

export const DASHBOARD_HELP = `Usage: natsrpc dashboard [--port 8080] [--host 127.0.0.1] [options]

Serves a live web page of the fleet: services, workers and their state, calls/s, errors by code,
latency, in-flight calls, event-loop delay, memory, the supervisor's decisions and which
supervisor leads. JSON API: /api/fleet, /api/events, /api/stream (docs/dashboard.md).
Read-only unless --allow-actions. SIGTERM or SIGINT stops it.

Options:
  --port <port>          port to listen on (default ${DEFAULT_DASHBOARD_PORT}; 0 picks a free one)
  --host <addr>          address to listen on (default ${DEFAULT_DASHBOARD_HOST})
  --dashboard-token <t>  require this bearer token (8+ characters); open the page once as
                         /?token=<t>                     env ${DASHBOARD_OPTIONS.token.env}
  --allow-actions        allow draining and resuming one worker from the page (each is logged)
  --signing-seed <file>  sign those commands with this nkey seed, as the supervisor does
                         env NATSRPC_SIGNING_SEED (the seed or its file)
${CONNECTION_HELP}`;

export async function dashboardCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CONNECTION_FLAGS,
      port: { type: 'string' },
      host: { type: 'string' },
      'dashboard-token': { type: 'string' },
      'allow-actions': { type: 'boolean' },
      'signing-seed': { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(DASHBOARD_HELP + '\n');
    return 0;
  }
  const token = values['dashboard-token'];
  if (token !== undefined && token.length < 8) throw new UsageError(`--dashboard-token must be at least 8 characters, received ${token.length}`);
  const dashboard = await reaching(() => startDashboard({
    ...connectionFrom(values),
    ...(values.prefix ? { prefix: values.prefix } : {}),
    port: optionFlag(DASHBOARD_OPTIONS.port, values.port),
    host: values.host,
    token,
    allowActions: values['allow-actions'],
    signCommand: commandSignerFrom(values['signing-seed']),
  }));
  process.stdout.write(JSON.stringify({ msg: 'dashboard ready', url: dashboard.url, port: dashboard.port }) + '\n');
  return new Promise<number>((done) => {
    const stop = () => void dashboard.close().then(() => done(0), () => done(1));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
