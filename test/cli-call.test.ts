/**
 * `natsrpc call` run as a shell runs it (spawned, real stdin pipes): where the payload comes from
 * (argument, piped stdin, "-", @file) and the bound on what it reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import echo from '../workers/echo.js';
import math from '../workers/math.js';
import { closing, startNats } from './helpers/nats.js';
import { runCliProcess } from './helpers/cli.js';

const quiet = createLogger('test', 'silent');
const stop = (w: { stop(): Promise<void> }) => w.stop();
const tmp = () => mkdtempSync(join(tmpdir(), 'natsrpc-cli-'));

test('call takes its payload from the argument, a piped stdin, "-" and @file, and bounds what it reads', async () => {
  await using nats = await startNats({ configText: 'max_payload: 8MB\n' });
  await using _math = closing(await startWorker(math, { servers: nats.url, logger: quiet }), stop);
  await using _echo = closing(await startWorker(echo, { servers: nats.url, logger: quiet }), stop);
  const at = ['--servers', nats.url];
  const dir = tmp();

  const arg = await runCliProcess({ args: ['call', 'math.add', '{"a":1,"b":2}', ...at] });
  assert.deepEqual([arg.code, arg.stdout], [0, '3\n'], arg.stderr);
  const piped = await runCliProcess({ args: ['call', 'math.add', ...at], input: '{"a":40,"b":2}\n' });
  assert.deepEqual([piped.code, piped.stdout], [0, '42\n'], piped.stderr);
  const dash = await runCliProcess({ args: ['call', 'math.add', '-', ...at], input: '{"a":5,"b":5}' });
  assert.deepEqual([dash.code, dash.stdout], [0, '10\n'], dash.stderr);
  writeFileSync(join(dir, 'p.json'), '{"a":7,"b":8}');
  const file = await runCliProcess({ args: ['call', 'math.add', `@${join(dir, 'p.json')}`, ...at] });
  assert.deepEqual([file.code, file.stdout], [0, '15\n'], file.stderr);
  const empty = await runCliProcess({ args: ['call', 'echo.echo', ...at], input: '' });
  assert.deepEqual([empty.code, empty.stdout], [0, 'null\n'], empty.stderr);

  // 1.5 MB through @file: too long for an argument list, fine for a file and a broker allowing 8 MB.
  const big = 'x'.repeat(1_500_000);
  writeFileSync(join(dir, 'big.json'), JSON.stringify(big));
  const large = await runCliProcess({ args: ['call', 'echo.echo', `@${join(dir, 'big.json')}`, ...at] });
  assert.equal(large.code, 0, large.stderr);
  assert.equal(large.stdout, JSON.stringify(big) + '\n');

  // Bounded: more than --max-input is refused before it is sent, from a file and from stdin.
  const tooBig = await runCliProcess({ args: ['call', 'echo.echo', `@${join(dir, 'big.json')}`, '--max-input', '1000000', ...at] });
  assert.equal(tooBig.code, 2);
  assert.match(tooBig.stderr, /holds more than 1000000 bytes \(--max-input\)/);
  const tooBigStdin = await runCliProcess({ args: ['call', 'echo.echo', '-', '--max-input', '1000', ...at], input: JSON.stringify('y'.repeat(5_000)) });
  assert.equal(tooBigStdin.code, 2);
  assert.match(tooBigStdin.stderr, /stdin holds more than 1000 bytes/);
  const missing = await runCliProcess({ args: ['call', 'echo.echo', `@${join(dir, 'nope.json')}`, ...at] });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read payload file/);
});

test('call sends and prints payloads beyond the broker\'s max_payload, from @file and from stdin (chunked bodies)', async () => {
  await using nats = await startNats({ configText: 'max_payload: 1048576\n' });
  await using _echo = closing(await startWorker(echo, { servers: nats.url, logger: quiet }), stop);
  const at = ['--servers', nats.url];
  const dir = tmp();
  const big = { text: 'z'.repeat(3_000_000), n: 1 };
  writeFileSync(join(dir, 'big.json'), JSON.stringify(big));
  const file = await runCliProcess({ args: ['call', 'echo.echo', `@${join(dir, 'big.json')}`, ...at] });
  assert.equal(file.code, 0, file.stderr);
  assert.equal(file.stdout, JSON.stringify(big) + '\n');
  const piped = await runCliProcess({ args: ['call', 'echo.echo', '-', ...at], input: JSON.stringify('q'.repeat(2_000_000)) });
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(piped.stdout.length, 2_000_003);
});
