import { parseArgs } from 'node:util';
import { connect } from '../../client/client.js';
import { RpcError } from '../../protocol/errors.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom, optionFlag, UsageError } from '../flags.js';
import { CLIENT_OPTIONS } from '../../options/table.js';

export const CALL_HELP = `Usage: natsrpc call <service.method> [json-payload] [options]

Calls a method and prints its result as JSON. On failure prints "CODE: message" on stderr and
exits 1.

Options:
  --timeout <ms>     call timeout in ms (default 5000)
  --header k=v       request header (repeatable)
  --idempotent       the method is safe to run twice: retry timeouts and lost workers too
  --wait-for-workers on NO_RESPONDERS keep retrying until the timeout (a deploy in progress)
${CONNECTION_HELP}`;

export async function callCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CONNECTION_FLAGS,
      timeout: { type: 'string' },
      header: { type: 'string', multiple: true },
      idempotent: { type: 'boolean' },
      'wait-for-workers': { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(CALL_HELP + '\n');
    return 0;
  }
  const [target, json] = positionals;
  if (target === undefined || positionals.length > 2) throw new UsageError('expected <service.method> [json-payload]');
  let payload: unknown = null;
  if (json !== undefined) {
    try {
      payload = JSON.parse(json);
    } catch (err) {
      throw new UsageError(`payload is not valid JSON: ${(err as Error).message}`);
    }
  }
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const eq = h.indexOf('=');
    if (eq < 1) throw new UsageError(`--header must be key=value, received ${JSON.stringify(h)}`);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  const timeoutMs = optionFlag(CLIENT_OPTIONS.timeoutMs, values.timeout);
  const client = await connect({ ...connectionFrom(values), ...(values.prefix ? { prefix: values.prefix } : {}) });
  try {
    const result = await client.call(target, payload, {
      timeoutMs,
      headers,
      ...(values.idempotent ? { idempotent: true } : {}),
      ...(values['wait-for-workers'] ? { waitForWorkers: true } : {}),
    });
    process.stdout.write(JSON.stringify(result ?? null) + '\n');
    return 0;
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    process.stderr.write(`${err.code}: ${err.message}\n`);
    if (err.details !== undefined) process.stderr.write(`details: ${JSON.stringify(err.details)}\n`);
    return 1;
  } finally {
    await client.close();
  }
}
