import { parseArgs } from 'node:util';
import { requestOnce } from '../../connection/request.js';
import { decodeChecked } from '../../protocol/codec.js';
import { DEFAULT_PREFIX, statusSubject } from '../../protocol/subjects.js';
import { checkStatusReply } from '../../protocol/supervisor-envelopes.js';
import type { StatusReply } from '../../supervisor/status.js';
import { boundedConnect, connectOrFail } from '../broker-connection.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom, intFlag, optionFlag } from '../flags.js';
import { CLIENT_OPTIONS } from '../../options/table.js';
import { renderStatus } from './status-table.js';
import { escapeControl, escapeLines } from '../escape.js';

export const STATUS_HELP = `Usage: natsrpc status [--json] [--watch [ms]] [options]

Asks the leading supervisor for the fleet and prints a table per service: worker, host/pid,
state, health, in-flight/limit, calls/s, p99, errors, heartbeat age and the last drain reason.
Exits 1 with a clear message when no supervisor answers.

Options:
  --json            print the supervisor's reply as JSON
  --watch           refresh every --every ms until Ctrl-C
  --every <ms>      refresh period of --watch (default 1000)
  --timeout <ms>    how long to wait for a supervisor (default 2000); also bounds connecting
${CONNECTION_HELP}`;

export const DEFAULT_STATUS_TIMEOUT_MS = 2_000;

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...CONNECTION_FLAGS, json: { type: 'boolean' }, watch: { type: 'boolean' }, every: { type: 'string' }, timeout: { type: 'string' } },
  });
  if (values.help) {
    process.stdout.write(STATUS_HELP + '\n');
    return 0;
  }
  const timeout = optionFlag(CLIENT_OPTIONS.timeoutMs, values.timeout) ?? DEFAULT_STATUS_TIMEOUT_MS;
  const every = intFlag('every', values.every) ?? 1_000;
  const prefix = values.prefix ?? DEFAULT_PREFIX;
  const nc = await connectOrFail(boundedConnect({ ...connectionFrom(values), name: 'natsrpc-status' }, timeout));
  let stopped = false;
  process.once('SIGINT', () => (stopped = true));
  try {
    for (;;) {
      let status: StatusReply;
      try {
        const reply = await requestOnce(nc, statusSubject(prefix), new Uint8Array(0), timeout);
        const value = decodeChecked(reply.data);
        const invalid = checkStatusReply(value);
        if (invalid !== null) throw new Error(`invalid status reply: ${invalid}`);
        status = value as StatusReply;
      } catch (err) {
        const code = (err as { code?: string }).code;
        const why = code === 'NO_RESPONDERS' ? 'nobody listens' : code === 'TIMEOUT' ? `no reply within ${timeout} ms` : (err as Error).message;
        process.stderr.write(`natsrpc status: no supervisor is running on ${statusSubject(prefix)} (${escapeControl(why)}). Start one with "natsrpc supervisor".\n`);
        return 1;
      }
      if (values.json) process.stdout.write(escapeLines(JSON.stringify(status, null, values.watch ? 0 : 2)) + '\n');
      else process.stdout.write((values.watch ? '\x1b[2J\x1b[H' : '') + renderStatus(status) + '\n');
      if (!values.watch || stopped) return 0;
      await new Promise((r) => setTimeout(r, every));
      if (stopped) return 0;
    }
  } finally {
    await nc.close();
  }
}
