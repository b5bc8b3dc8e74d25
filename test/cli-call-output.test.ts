/**
 * How `natsrpc call` prints results: JSON lines, bytes as base64, bigint as a number, --raw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import odd from './fixtures/odd.js';
import { closing, startNats } from './helpers/nats.js';
import { runCliProcess } from './helpers/cli.js';

const quiet = createLogger('test', 'silent');
const stop = (w: { stop(): Promise<void> }) => w.stop();

test('call prints bytes as base64 and bigint as a number; --raw writes bytes and strings as they are', async () => {
  await using nats = await startNats();
  await using _odd = closing(await startWorker(odd, { servers: nats.url, logger: quiet }), stop);
  const at = ['--servers', nats.url];
  const json = await runCliProcess({ args: ['call', 'odd.bytes', ...at] });
  assert.deepEqual([json.code, json.stdout], [0, '"AAEC/w=="\n'], json.stderr);
  const raw = await runCliProcess({ args: ['call', 'odd.bytes', '--raw', ...at] });
  assert.equal(raw.code, 0, raw.stderr);
  assert.deepEqual([...raw.stdoutBytes], [0, 1, 2, 255]);
  const text = await runCliProcess({ args: ['call', 'odd.text', '--raw', ...at] });
  assert.deepEqual([text.code, text.stdout], [0, 'two\nlines']);
  const textJson = await runCliProcess({ args: ['call', 'odd.text', ...at] });
  assert.equal(textJson.stdout, '"two\\nlines"\n');
  const big = await runCliProcess({ args: ['call', 'odd.big', ...at] });
  if (big.code === 0) assert.equal(big.stdout, `${2n ** 60n}\n`); // when bigint travels (issue 9's value table)
});
