/**
 * Worker and supervisor logs for people: when stdout is a terminal, each pino JSON line is
 * written as one readable line (`12:00:01.250 INFO  worker ready service=math ...`), with an error's
 * stack below it. Anywhere else (a pipe, a file, a log collector) the JSON lines stay as they are.
 *
 * A small formatter instead of pino-pretty: pino-pretty brings a dozen packages and a transport
 * thread for what is a dozen lines here, and every worker process would pay for loading them.
 */
import { createLogger, type Logger } from '../logging/logger.js';
import { escapeControl } from './escape.js';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[31m' };
const RESET = '\x1b[0m';
/** Fields every line has, shown in their own places or not at all. */
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'err']);

function fieldText(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return escapeControl(/\s/.test(text) && typeof value === 'string' ? JSON.stringify(text) : text);
}

/** One pino JSON line as a readable line; anything that is not a JSON object is passed through, escaped. */
export function formatLogLine(line: string, color = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return escapeControl(line.trimEnd()) + '\n';
  }
  if (typeof entry !== 'object' || entry === null) return escapeControl(line.trimEnd()) + '\n';
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  let label = (LEVELS[level] ?? String(level)).padEnd(5);
  if (color && COLORS[level] !== undefined) label = COLORS[level] + label + RESET;
  const fields = Object.entries(entry)
    .filter(([k]) => !OMITTED.has(k))
    .map(([k, v]) => `${escapeControl(k)}=${fieldText(v)}`);
  let out = `${time} ${label} ${escapeControl(String(entry.msg ?? ''))}${fields.length > 0 ? ' ' + fields.join(' ') : ''}\n`;
  const err = entry.err as { type?: unknown; message?: unknown; stack?: unknown } | undefined;
  if (err !== undefined && err !== null) {
    const stack = typeof err.stack === 'string' ? err.stack : `${String(err.type ?? 'Error')}: ${String(err.message ?? '')}`;
    out += stack.split('\n').map((l) => `    ${escapeControl(l)}\n`).join('');
  }
  return out;
}

/** A logger for a long-running CLI command: readable lines on a terminal, JSON lines otherwise. */
export function createCliLogger(name: string, level?: string, stdout: NodeJS.WriteStream = process.stdout): Logger {
  if (stdout.isTTY !== true) return createLogger(name, level);
  const color = stdout.hasColors?.() ?? false;
  return createLogger(name, level, { write: (line: string) => stdout.write(formatLogLine(line, color)) });
}
