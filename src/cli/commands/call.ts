import { parseArgs } from 'node:util';
import { connect, type RpcClient } from '../../client/client.js';
import { isRpcError } from '../../protocol/errors.js';
import { parseTarget } from '../../client/target.js';
import { DEFAULT_PREFIX } from '../../protocol/subjects.js';
import { boundedConnect, reaching } from '../broker-connection.js';
import { CLIENT_OPTIONS } from '../../options/table.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom, intFlag, optionFlag, UsageError } from '../flags.js';
import { rawOutput, toJsonLine } from '../output.js';
import { DEFAULT_MAX_INPUT_BYTES, readPayload } from '../payload.js';

export const CALL_HELP = `Usage: natsrpc call <service.method> [payload] [options]

Calls a method and prints its result on stdout as one line of JSON (bytes as base64, bigint as a
number). On failure prints "CODE: message" on stderr and exits 1. A streaming method prints one
line per item as it arrives (NDJSON) and exits with the stream's outcome: 0 once it completed, 1
(CODE: message) when it ended otherwise, after the lines of the items that arrived.

The payload is JSON, taken from:
  '<json>'           the argument
  -                  stdin (also read when no payload is given and stdin is not a terminal)
  @<file>            a file
No payload and a terminal (or empty) stdin send null.

Options:
  --timeout <ms>     bounds connecting and the call together (default: 5000 to connect, then
                     the call timeout of the client or of the supervisor's deadline policy);
                     for a stream, its overall deadline (default: stream.timeoutMs)
  --raw              write a string or bytes result exactly as it is (no JSON, no newline;
                     to a terminal, control characters but line feeds and tabs are escaped)
  --max-input <n>    refuse a payload larger than n bytes (default ${DEFAULT_MAX_INPUT_BYTES})
  --header k=v       request header (repeatable)
  --idempotent       the method is safe to run twice: retry timeouts and lost workers too
  --wait-for-workers on NO_RESPONDERS keep retrying until the timeout (a deploy in progress)
${CONNECTION_HELP}

Exit codes: 0 ok, 1 the call failed (CODE: message on stderr), 2 usage error, 3 broker unreachable.`;

export async function callCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CONNECTION_FLAGS,
      timeout: { type: 'string' },
      raw: { type: 'boolean' },
      'max-input': { type: 'string' },
      header: { type: 'string', multiple: true },
      idempotent: { type: 'boolean' },
      'wait-for-workers': { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(CALL_HELP + '\n');
    return 0;
  }
  const [target, payloadArg] = positionals;
  if (target === undefined || positionals.length > 2) throw new UsageError('expected <service.method> [payload]');
  const prefix = values.prefix ?? DEFAULT_PREFIX;
  try {
    parseTarget(prefix, target);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const eq = h.indexOf('=');
    if (eq < 1) throw new UsageError(`--header must be key=value, received ${JSON.stringify(h)}`);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  const timeoutMs = optionFlag(CLIENT_OPTIONS.timeoutMs, values.timeout);
  const maxBytes = intFlag('max-input', values['max-input']) ?? DEFAULT_MAX_INPUT_BYTES;
  const payload = await readPayload({ arg: payloadArg, stdin: process.stdin, maxBytes });

  const started = performance.now();
  const options = boundedConnect({ ...connectionFrom(values), ...(values.prefix ? { prefix: values.prefix } : {}) }, timeoutMs);
  const client = await reaching(() => connect(options));
  try {
    // What connecting took comes off the call's budget: --timeout bounds the whole command.
    const left = timeoutMs === undefined ? undefined : Math.max(1, Math.round(timeoutMs - (performance.now() - started)));
    let result: unknown;
    try {
      result = await client.call(target, payload, {
        timeoutMs: left,
        headers,
        ...(values.idempotent ? { idempotent: true } : {}),
        ...(values['wait-for-workers'] ? { waitForWorkers: true } : {}),
      });
    } catch (err) {
      // The worker refused it unprocessed because the method streams (a typed detail, not the text).
      if (!isRpcError(err) || err.code !== 'BAD_REQUEST' || (err.details as { streaming?: unknown } | undefined)?.streaming !== true) throw err;
      return await printStream(client, target, payload, timeoutMs === undefined ? undefined : left, headers);
    }
    await write(values.raw ? rawOutput(result, process.stdout.isTTY === true) : toJsonLine(result) + '\n');
    return 0;
  } finally {
    await client.close();
  }
}

/** Prints each item of a stream as one JSON line as it arrives; a stream that does not complete throws. */
async function printStream(client: RpcClient, target: string, payload: unknown, timeoutMs: number | undefined, headers: Record<string, string>): Promise<number> {
  for await (const item of client.stream(target, payload, { timeoutMs, headers })) await write(toJsonLine(item) + '\n');
  return 0;
}

/** Writes to stdout and resolves once it is flushed (a pipe may take a large result slowly). */
function write(data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())));
}
