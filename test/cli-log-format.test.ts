/**
 * Worker logs on a terminal: one readable line per entry, an error's stack below it, text from the
 * bus escaped. (On a pipe they stay JSON lines: test/cli-worker.test.ts parses them.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCliLogger } from '../src/cli/log-format.js';

function terminal(): NodeJS.WriteStream & { text: string } {
  const out = { text: '', isTTY: true, hasColors: () => false, write: (s: string) => ((out.text += s), true) };
  return out as unknown as NodeJS.WriteStream & { text: string };
}

test('on a terminal a log entry is one readable line with its fields, and an error its stack', () => {
  const tty = terminal();
  const log = createCliLogger('natsrpc-worker', 'info', tty).child({ service: 'math' });
  log.info({ concurrency: 64, subject: 'rpc.math.*' }, 'worker ready');
  log.warn({ reason: 'from the bus: \x1b[2J\nFAKE line' }, 'odd');
  const err = new Error('handler failed');
  log.error({ err }, 'call failed');
  log.debug('not at this level');
  const lines = tty.text.split('\n');
  assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} INFO  worker ready service=math concurrency=64 subject=rpc\.math\.\*$/);
  assert.match(lines[1]!, /^\d\d:\d\d:\d\d\.\d{3} WARN  odd service=math reason="from the bus: \\u001b\[2J\\nFAKE line"$/);
  assert.match(lines[2]!, /ERROR call failed service=math$/);
  assert.equal(lines[3], '    Error: handler failed');
  assert.match(lines[4]!, /^ {4}    at /);
  assert.doesNotMatch(tty.text, /not at this level/);
  assert.doesNotMatch(tty.text, /[\x00-\x09\x0b-\x1f]/, 'no control character but the line ends');
});
