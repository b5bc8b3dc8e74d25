/**
 * How `natsrpc call` prints a result: JSON on one line, with bytes (`Uint8Array`, `Buffer`) as
 * base64 strings and `bigint` as a JSON number, control characters escaped inside strings. `raw`
 * writes bytes and strings exactly as they are, except to a terminal.
 */
import { randomBytes } from 'node:crypto';
import { escapeLines } from './escape.js';

/** The result as one line of JSON, safe for a terminal (escapes the JSON.stringify leaves raw, see escape.ts). */
export function toJsonLine(value: unknown): string {
  // A bigint is written as a number (JSON has no size limit on numbers, JSON.stringify has no
  // bigint): it goes through as a string between marks no payload can know, then is unquoted.
  const mark = `bigint-${randomBytes(8).toString('hex')}`;
  const text = JSON.stringify(value ?? null, function (this: Record<string, unknown>, key: string, v: unknown) {
    // `this[key]` is the value before its toJSON ran (Buffer's would turn it into {type, data}).
    const original = this[key];
    if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
    if (typeof v === 'bigint') return `${mark}${v.toString()}${mark}`;
    return v;
  });
  return escapeLines((text ?? 'null').replace(new RegExp(`"${mark}(-?\\d+)${mark}"`, 'g'), '$1'));
}

/**
 * What `--raw` writes: bytes and strings unchanged (no newline added), anything else as JSON. To a
 * terminal, bytes and strings keep their lines and tabs but every other control character is escaped.
 */
export function rawOutput(value: unknown, terminal = false): Uint8Array | string {
  if (value instanceof Uint8Array) return terminal ? escapeLines(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')) : value;
  if (typeof value === 'string') return terminal ? escapeLines(value) : value;
  return toJsonLine(value) + '\n';
}
