/**
 * What a natsrpc command's exit code means; README.md ("Exit codes") documents the same table.
 * Commands throw; main.ts turns what they threw into one line on stderr and one of these codes.
 */
import { RpcError } from '../protocol/errors.js';
import { escapeControl } from './escape.js';
import { UsageError } from './flags.js';

export const EXIT_OK = 0;
/** The call (or the worker module) ended in an error: `CODE: message` on stderr. */
export const EXIT_ERROR = 1;
/** The command line is wrong: unknown flag, malformed target or payload, input too large. */
export const EXIT_USAGE = 2;
/** No broker could be reached (refused, timed out, TLS or authentication rejected). */
export const EXIT_UNREACHABLE = 3;

/** The broker could not be reached; exits 3. The cause is kept. */
export class BrokerUnreachableError extends Error {
  override readonly name = 'BrokerUnreachableError';
}

/** A worker module failed to load; exits 1 with the module's own error and stack. */
export class ModuleLoadError extends Error {
  override readonly name = 'ModuleLoadError';
}

/** Writes what `err` means to stderr and returns the exit code, or rethrows what it does not know. */
export function reportError(command: string, err: unknown, write: (line: string) => void = (l) => process.stderr.write(l + '\n')): number {
  if (err instanceof UsageError || String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS') || err instanceof TypeError) {
    write(`natsrpc ${command}: ${escapeControl((err as Error).message)}`);
    if (!(err instanceof TypeError)) write(`Run "natsrpc ${command} --help" for usage.`);
    return EXIT_USAGE;
  }
  if (err instanceof BrokerUnreachableError) {
    write(`natsrpc ${command}: ${escapeControl(err.message)}`);
    return EXIT_UNREACHABLE;
  }
  if (err instanceof ModuleLoadError) {
    const cause = err.cause as { stack?: unknown } | undefined;
    write(`natsrpc ${command}: ${escapeControl(err.message)}`);
    if (typeof cause?.stack === 'string') write(cause.stack);
    return EXIT_ERROR;
  }
  if (err instanceof RpcError) {
    write(`${escapeControl(err.code)}: ${escapeControl(err.message)}`);
    if (err.details !== undefined) write(`details: ${escapeControl(safeJson(err.details))}`);
    return EXIT_ERROR;
  }
  throw err;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  } catch {
    return String(value);
  }
}
