/**
 * Attack: text from the bus carrying terminal control sequences (ESC, BEL, OSC that sets the window
 * title, CSI that clears the screen, a one-character C1 CSI, DEL, a bidi override) reaches an
 * operator's terminal through the CLI. Every command is run as a shell runs it (real pipes); its
 * output must hold none of those characters raw, and show them escaped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openConnection } from '../src/connection/options.js';
import { encode } from '../src/protocol/codec.js';
import { PROTOCOL_VERSION } from '../src/protocol/envelope.js';
import { heartbeatSubject } from '../src/protocol/subjects.js';
import { defineWorker, RpcError, startWorker } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { closing, startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';
import { runCliProcess, type CliRun } from './helpers/cli.js';
import { ROOT } from './helpers/processes.js';
import { BROKER_CONFIG, spawnSupervisor } from './helpers/supervision.js';

/** Clears the screen, sets the window title (OSC ... BEL), then a C1 CSI, DEL and a right-to-left override. */
const PAYLOAD = 'h\x1b[2J\x1b[H\x1b]0;pwned\x07\u009b31m\x7f\u202eosi';
/** How the escaped payload reads. */
const ESCAPED = 'h\\u001b[2J\\u001b[H\\u001b]0;pwned\\u0007\\u009b31m\\u007f\\u202eosi';
/** Any character a terminal could act on, except the line feeds that end lines. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const quiet = createLogger('test', 'silent');

function assertClean(run: CliRun, what: string): void {
  assert.doesNotMatch(run.stdout, RAW_CONTROL, `${what}: stdout holds no raw control character`);
  assert.doesNotMatch(run.stderr, RAW_CONTROL, `${what}: stderr holds no raw control character`);
}

test('natsrpc status shows a forged heartbeat whose host holds ESC, BEL and OSC sequences escaped, in the table and in --json', async () => {
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using _sup = await spawnSupervisor(nats.url);
  await using nc = closing(await openConnection({ servers: nats.url }), (c) => c.close());
  const id = 'evil-0123456789ab';
  let seq = 0;
  const beat = () => {
    const now = Date.now();
    nc.publish(heartbeatSubject('rpc', 'evil', id), encode({
      v: PROTOCOL_VERSION, id, service: 'evil', version: '1', host: PAYLOAD, pid: 1, serverId: 's', clientId: 1, state: 'serving', seq: ++seq, ts: now,
      startedAt: now - 60_000, intervalMs: 500, inFlight: 0, concurrency: 4, received: 0, ok: 0, failed: {}, expired: 0, overruns: 0,
      consecutiveFaults: 0, p50Ms: 1, p99Ms: 2, loopDelayP99Ms: 1, stalledMs: 0, rssBytes: 1_000_000, overdue: 0, healthy: true,
    }));
  };
  beat();
  const timer = setInterval(beat, 250);
  try {
    const at = ['--servers', nats.url];
    let json: CliRun | undefined;
    // The supervisor lists the worker once its heartbeat arrived (a typed answer, waited for).
    assert.ok(await waitFor(async () => {
      json = await runCliProcess({ args: ['status', '--json', ...at] });
      return json.code === 0 && json.stdout.includes(id);
    }, 30_000), `natsrpc status --json lists the forged worker:\n${json?.stdout}${json?.stderr}`);
    assertClean(json!, 'status --json');
    const status = JSON.parse(json!.stdout) as { services: { service: string; workers: { id: string; host: string }[] }[] };
    assert.equal(status.services.find((s) => s.service === 'evil')?.workers.find((w) => w.id === id)?.host, PAYLOAD, 'the JSON still says what the heartbeat said');

    const table = await runCliProcess({ args: ['status', ...at] });
    assert.equal(table.code, 0, table.stderr);
    assertClean(table, 'status');
    assert.ok(table.stdout.includes(`${ESCAPED}/1`), `the host is shown escaped:\n${table.stdout}`);
  } finally {
    clearInterval(timer);
  }
});

test('natsrpc call prints an error message, a JSON result and a --raw result with control sequences escaped', async () => {
  await using nats = await startNats();
  const hostile = defineWorker({
    service: 'hostile',
    methods: {
      fail: () => {
        throw new RpcError('NOPE', `failed ${PAYLOAD}`, { details: { why: PAYLOAD } });
      },
      text: () => PAYLOAD,
    },
  });
  await using _w = closing(await startWorker(hostile, { servers: nats.url, logger: quiet }), (w) => w.stop());
  const at = ['--servers', nats.url];

  const failed = await runCliProcess({ args: ['call', 'hostile.fail', ...at] });
  assert.equal(failed.code, 1, failed.stderr);
  assertClean(failed, 'call error');
  assert.ok(failed.stderr.startsWith(`NOPE: failed ${ESCAPED}\n`), failed.stderr);

  const result = await runCliProcess({ args: ['call', 'hostile.text', ...at] });
  assert.equal(result.code, 0, result.stderr);
  assertClean(result, 'call result');
  assert.equal(JSON.parse(result.stdout), PAYLOAD, 'still the same JSON');

  // --raw on a pipe writes the string as it is: a script asked for the exact bytes.
  const raw = await runCliProcess({ args: ['call', 'hostile.text', '--raw', ...at] });
  assert.equal(raw.stdout, PAYLOAD);
});

test('the dashboard page escapes with the same pattern as the CLI', () => {
  const pattern = (file: string) => /^const UNSAFE = (\/.+\/g);$/m.exec(readFileSync(join(ROOT, file), 'utf8'))?.[1];
  const cli = pattern('src/cli/escape.ts');
  assert.ok(cli !== undefined, 'escape.ts defines UNSAFE');
  assert.equal(pattern('src/dashboard/static/dom.js'), cli);
  assert.ok(new RegExp(cli.slice(1, -2)).test(PAYLOAD));
});
