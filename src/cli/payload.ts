/**
 * Where `natsrpc call` takes its payload from: the argument (JSON), `-` or a piped stdin, or
 * `@file`. Reading is bounded: more than `maxBytes` is refused before it is all in memory.
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { UsageError } from './flags.js';

/** 8 MiB: the largest `max_payload` NATS recommends; raise it with `--max-input`. */
export const DEFAULT_MAX_INPUT_BYTES = 8 * 1024 * 1024;

export interface PayloadSource {
  /** The payload argument: JSON, `-` for stdin, `@path` for a file; undefined when none was given. */
  arg: string | undefined;
  stdin: Readable & { isTTY?: boolean };
  maxBytes: number;
}

/** Reads a stream to its end, failing once it holds more than `maxBytes`. */
export async function readBounded(stream: AsyncIterable<Uint8Array | string>, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    size += buf.byteLength;
    if (size > maxBytes) throw new UsageError(`${what} holds more than ${maxBytes} bytes (--max-input)`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

async function readFileBounded(path: string, maxBytes: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new UsageError(`cannot read payload file ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  try {
    // Checked by reading, not by stat: a FIFO or /dev/stdin has no size.
    return await readBounded(handle.createReadStream({ autoClose: false }), maxBytes, `payload file ${JSON.stringify(path)}`);
  } finally {
    await handle.close();
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * The payload to send. With no argument, a stdin that is not a terminal is read (empty means
 * null, so `natsrpc call svc.m < /dev/null` sends null); a terminal is not waited on.
 */
export async function readPayload({ arg, stdin, maxBytes }: PayloadSource): Promise<unknown> {
  if (arg === '-' || (arg === undefined && stdin.isTTY !== true)) {
    const text = (await readBounded(stdin, maxBytes, 'stdin')).toString('utf8');
    if (arg === undefined && text.trim() === '') return null;
    return parseJson(text, 'stdin');
  }
  if (arg === undefined) return null;
  if (arg.startsWith('@')) {
    const path = arg.slice(1);
    if (path === '') throw new UsageError('@ must be followed by a file name (@payload.json)');
    return parseJson((await readFileBounded(path, maxBytes)).toString('utf8'), `payload file ${JSON.stringify(path)}`);
  }
  if (Buffer.byteLength(arg) > maxBytes) throw new UsageError(`the payload argument holds more than ${maxBytes} bytes (--max-input)`);
  return parseJson(arg, 'payload');
}
