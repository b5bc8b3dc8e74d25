/**
 * The bounded reading of NATS header blocks (src/protocol/nats-headers.ts), on messages shaped as
 * the `nats` package delivers them: the limits in bytes and lines, and the status line read from
 * the raw bytes, and one header's value (a body chunk's metadata). The attack tests (attack-header-bomb) drive the same code through a real broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHeaderBlock, headerBlockLength, headerStatus, headerValue, MAX_HEADER_BYTES, MAX_HEADER_LINES } from '../src/protocol/nats-headers.js';

/** A message as nats.js holds it: the header length in `_msg.hdr` (-1: none), header and body bytes in `_rdata`. */
function msg(header: string | null, body = 'x'): object {
  const h = header === null ? Buffer.alloc(0) : Buffer.from(header, 'latin1');
  return { _msg: { hdr: header === null ? -1 : h.length }, _rdata: Buffer.concat([h, Buffer.from(body)]) };
}

test('status lines: the broker\'s 503 with or without a description; anything else is no status', () => {
  assert.equal(headerStatus(msg('NATS/1.0 503\r\n\r\n', '')), 503);
  assert.equal(headerStatus(msg('NATS/1.0 503 No Responders\r\n\r\n', '')), 503);
  assert.equal(headerStatus(msg('NATS/1.0 408 Request Timeout\r\n\r\n', '')), 408);
  assert.equal(headerStatus(msg('NATS/1.0\r\nX: 503\r\n\r\n')), 0);
  assert.equal(headerStatus(msg('NATS/1.0 5033\r\n\r\n')), 0);
  assert.equal(headerStatus(msg('NATS/2.0 503\r\n\r\n')), 0);
  assert.equal(headerStatus(msg(null)), 0);
  assert.equal(headerBlockLength(msg(null)), 0);
});

test('a header block is refused over the byte limit or the line limit, and passes within both', () => {
  assert.equal(checkHeaderBlock(msg(null)), null);
  assert.equal(checkHeaderBlock(msg('NATS/1.0 503\r\n\r\n')), null);
  const line = (i: number) => `X-${i}: v\r\n`;
  const within = 'NATS/1.0\r\n' + Array.from({ length: MAX_HEADER_LINES - 2 }, (_, i) => line(i)).join('') + '\r\n';
  assert.equal(checkHeaderBlock(msg(within)), null, `${MAX_HEADER_LINES} lines pass`);
  const tooManyLines = 'NATS/1.0\r\n' + Array.from({ length: MAX_HEADER_LINES - 1 }, (_, i) => line(i)).join('') + '\r\n';
  assert.match(checkHeaderBlock(msg(tooManyLines)) ?? '', /lines exceeds 64/);
  const big = 'NATS/1.0\r\nX: ' + 'v'.repeat(MAX_HEADER_BYTES) + '\r\n\r\n';
  assert.match(checkHeaderBlock(msg(big)) ?? '', /bytes exceeds 4096/);
  const exact = 'NATS/1.0\r\nX: ' + 'v'.repeat(MAX_HEADER_BYTES - 'NATS/1.0\r\nX: \r\n\r\n'.length) + '\r\n\r\n';
  assert.equal(Buffer.byteLength(exact, 'latin1'), MAX_HEADER_BYTES);
  assert.equal(checkHeaderBlock(msg(exact)), null, 'exactly 4,096 bytes pass');
});

test('a header\'s value: its one line by exact name, never the status line, the payload or a second line', () => {
  assert.equal(headerValue(msg('NATS/1.0\r\nNatsrpc-Chunk: v=1 t=1 o=0\r\n\r\n'), 'Natsrpc-Chunk'), 'v=1 t=1 o=0');
  assert.equal(headerValue(msg('NATS/1.0\r\nA: b\r\nNatsrpc-Chunk:v=1\r\nC: d\r\n\r\n'), 'Natsrpc-Chunk'), 'v=1', 'among others, no space after the colon');
  assert.equal(headerValue(msg('NATS/1.0\r\nNatsrpc-Chunk: \r\n\r\n'), 'Natsrpc-Chunk'), '');
  assert.equal(headerValue(msg('NATS/1.0\r\nNatsrpc-Chunk: a\r\nNatsrpc-Chunk: a\r\n\r\n'), 'Natsrpc-Chunk'), null, 'twice');
  assert.equal(headerValue(msg('NATS/1.0\r\nnatsrpc-chunk: a\r\n\r\n'), 'Natsrpc-Chunk'), null, 'another case');
  assert.equal(headerValue(msg('NATS/1.0\r\nNatsrpc-Chunkx: a\r\n\r\n'), 'Natsrpc-Chunk'), null, 'a longer name');
  assert.equal(headerValue(msg('NATS/1.0\r\nNatsrpc-Chunk: a\u00ff\r\n\r\n'), 'Natsrpc-Chunk'), null, 'a byte beyond ASCII');
  assert.equal(headerValue(msg('Natsrpc-Chunk: a\r\n\r\n'), 'Natsrpc-Chunk'), null, 'the status line is no header');
  assert.equal(headerValue(msg('NATS/1.0\r\n\r\n', 'Natsrpc-Chunk: a\r\n'), 'Natsrpc-Chunk'), null, 'the payload is not read');
  assert.equal(headerValue(msg(null, 'NATS/1.0\r\nNatsrpc-Chunk: a\r\n'), 'Natsrpc-Chunk'), null, 'no header block');
});
