/**
 * `natsrpc ls`, `info` and `stats` read what workers answer to $SRV discovery, with no supervisor:
 * tables for people (text from the bus escaped), --json for scripts, answers of the wrong shape
 * ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, startWorker } from '../src/index.js';
import { openConnection } from '../src/connection/options.js';
import { createLogger } from '../src/logging/logger.js';
import echo from '../workers/echo.js';
import math from '../workers/math.js';
import { closing, startNats } from './helpers/nats.js';
import { runCliProcess } from './helpers/cli.js';

const quiet = createLogger('test', 'silent');
const stop = (w: { stop(): Promise<void> }) => w.stop();

interface Answer {
  name: string;
  id: string;
  endpoints?: { name: string; subject: string; queue_group: string; num_requests?: number; num_errors?: number; last_error?: string }[];
}

test('ls, info and stats list workers, endpoints and counters from $SRV, as tables and as JSON', async () => {
  await using nats = await startNats();
  await using m1 = closing(await startWorker(math, { servers: nats.url, logger: quiet }), stop);
  await using m2 = closing(await startWorker(math, { servers: nats.url, logger: quiet }), stop);
  await using e1 = closing(await startWorker(echo, { servers: nats.url, logger: quiet }), stop);
  // Something else on the bus answers too: once with garbage, once with a name that would drive a terminal.
  await using nc = closing(await openConnection({ servers: nats.url }), (c) => c.close());
  const hostile = { type: 'io.nats.micro.v1.ping_response', name: 'evil\x1b[2J\nsvc', id: 'EVIL1', version: '6.6.6', metadata: {} };
  nc.subscribe('$SRV.PING', { callback: (_e, msg) => {
    msg.respond(new TextEncoder().encode('{not json'));
    msg.respond(new TextEncoder().encode(JSON.stringify(hostile)));
  } });
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), (c) => c.close());
  for (let i = 0; i < 3; i++) await client.call('math.add', { a: i, b: 1 });
  await assert.rejects(client.call('math.div', { a: 1, b: 0 }));
  const at = ['--servers', nats.url, '--timeout', '2000'];

  const ls = await runCliProcess({ args: ['ls', ...at] });
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /^SERVICE\s+WORKER\s+VERSION\s+STATE\s+HOST\s+CONTROL$/m);
  for (const w of [m1, m2]) assert.match(ls.stdout, new RegExp(`^math\\s+${w.id}\\s+1\\.0\\.0\\s+serving\\s+\\S+\\s+unsigned$`, 'm'));
  assert.match(ls.stdout, new RegExp(`^echo\\s+${e1.id}\\s+`, 'm'));
  assert.match(ls.stdout, /^evil\\u001b\[2J\\nsvc\s+EVIL1/m, 'the hostile name is escaped');
  assert.doesNotMatch(ls.stdout, /\x1b/);
  assert.match(ls.stdout, /4 workers of 3 services/);
  assert.match(ls.stderr, /ignored 1 answer\(s\)/);

  const lsJson = await runCliProcess({ args: ['ls', '--json', ...at] });
  assert.equal(lsJson.code, 0, lsJson.stderr);
  const listed = JSON.parse(lsJson.stdout) as Answer[];
  assert.deepEqual(listed.map((a) => a.id).sort(), [m1.id, m2.id, e1.id, 'EVIL1'].sort());

  const info = await runCliProcess({ args: ['info', 'math', ...at] });
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /^service math: 2 workers, version 1\.0\.0$/m);
  assert.match(info.stdout, /^add\s+rpc\.math\.add\s+math\s+2$/m);
  assert.match(info.stdout, /^div\s+rpc\.math\.div\s+math\s+2$/m);
  assert.doesNotMatch(info.stdout, /echo|EVIL/);
  const infoJson = JSON.parse((await runCliProcess({ args: ['info', 'math', '--json', ...at] })).stdout) as Answer[];
  assert.deepEqual(infoJson.map((a) => a.id).sort(), [m1.id, m2.id].sort());
  assert.deepEqual(infoJson[0]!.endpoints!.map((e) => e.subject).sort(), ['rpc.math.add', 'rpc.math.div']);

  const statsJson = await runCliProcess({ args: ['stats', 'math', '--json', ...at] });
  assert.equal(statsJson.code, 0, statsJson.stderr);
  const stats = (JSON.parse(statsJson.stdout) as Answer[]).flatMap((a) => a.endpoints!);
  const sum = (name: string, key: 'num_requests' | 'num_errors') => stats.filter((e) => e.name === name).reduce((n, e) => n + e[key]!, 0);
  assert.equal(sum('add', 'num_requests'), 3);
  assert.equal(sum('div', 'num_requests'), 1);
  assert.equal(sum('div', 'num_errors'), 1);
  const table = await runCliProcess({ args: ['stats', ...at] });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^SERVICE\s+WORKER\s+ENDPOINT\s+REQUESTS\s+ERRORS\s+AVG MS\s+LAST ERROR$/m);
  assert.match(table.stdout, /^math\s+\S+\s+div\s+1\s+1\s+\d+\.\d\d\s+DIVIDE_BY_ZERO: cannot divide 1 by zero$/m);
  assert.match(table.stdout, new RegExp(`^echo\\s+${e1.id}\\s+echo\\s+0\\s+0\\s+`, 'm'));
});
