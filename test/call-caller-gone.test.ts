/**
 * A plain call whose caller vanishes without a cancel (its process SIGKILLed) ends promptly on the
 * worker under the shipped identities: the worker probes the caller of a call that has run
 * CALL_CALLER_PROBE_MS by sending its ack again as a request, the broker answers 503 (nobody reads
 * the reply subject), and the handler's `ctx.signal` is aborted as CANCELLED; the slot is free.
 * The call's budget is 120 s, so an end by the deadline cannot pass: the bound waited for is 60 s.
 * A live caller whose call outlasts several probes gets its result (repeated acks change nothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import { serviceEnv } from './helpers/attack.js';
import { identity, startSingleNode, TEST_PASSWORDS } from './helpers/cluster.js';
import { closing } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';
import { ChildHandle, SCRIPT, spawnWorker } from './helpers/processes.js';
import { close, quiet } from './helpers/streams.js';
import { CALL_CALLER_PROBE_MS } from '../src/worker/call-caller-probes.js';

type State = { callsHeld: number; callsEnded: number; callEndedAt: number; callEndedBy: string };

const CALL_TIMEOUT_MS = 120_000;
const END_BOUND_MS = 60_000;
const CALLER_ENV = { NATS_USER: 'caller', NATS_PASS: TEST_PASSWORDS.NATS_CALLER_PASS, NATS_INBOX_PREFIX: '_INBOX_caller' };

test('shipped broker: the caller of a long plain call SIGKILLed: the handler is aborted as CANCELLED, the slot is free', async (t) => {
  await using nats = await startSingleNode();
  await using _worker = await spawnWorker('test/fixtures/echo-streamer.ts', nats.url, ['--concurrency', '2'], serviceEnv('echo'));
  await using client = closing(await connect({ servers: nats.url, ...identity('caller'), logger: quiet }), close);
  const state = () => client.call<State>('echo.state');
  const before = await state();

  await using caller = new ChildHandle(['test/fixtures/call-caller.ts', nats.url, 'echo.holdCall', '{}', String(CALL_TIMEOUT_MS)], CALLER_ENV, SCRIPT);
  await caller.waitForLine(/^\{"calling":true\}$/, 30_000);
  assert.ok(await waitFor(async () => (await state()).callsHeld > before.callsHeld, 10_000), 'the worker runs the call');

  const vanishedAt = Date.now();
  caller.signal('SIGKILL');
  let s!: State;
  assert.ok(await waitFor(async () => (s = await state()).callsEnded > before.callsEnded, END_BOUND_MS), `the handler did not end within ${END_BOUND_MS} ms of the caller's SIGKILL`);
  assert.equal(s.callEndedBy, 'CANCELLED', 'ctx.signal was aborted as CANCELLED');
  t.diagnostic(`handler ended ${s.callEndedAt - vanishedAt} ms after the caller's SIGKILL (probe after ${CALL_CALLER_PROBE_MS} ms; budget ${CALL_TIMEOUT_MS} ms)`);
  // Concurrency 2: a call held by this client plus another call fit only if the vanished caller's slot is free.
  const abort = new AbortController();
  const held = client.call('echo.holdCall', {}, { signal: abort.signal, timeoutMs: CALL_TIMEOUT_MS }).catch((e: { code?: string }) => e.code);
  assert.ok(await waitFor(async () => (await state()).callsHeld > s.callsHeld, 10_000), 'the worker runs the second held call');
  assert.deepEqual(await client.call('echo.wait', { ms: 1 }), { waitedMs: 1 }, 'the slot is free');
  abort.abort();
  assert.equal(await held, 'CANCELLED');
});

test('shipped broker: a live caller whose call outlasts several probes of it gets its result', async () => {
  await using nats = await startSingleNode();
  await using _worker = await spawnWorker('test/fixtures/echo-streamer.ts', nats.url, [], serviceEnv('echo'));
  await using client = closing(await connect({ servers: nats.url, ...identity('caller'), logger: quiet }), close);
  const ms = 3 * CALL_CALLER_PROBE_MS;
  assert.deepEqual(await client.call('echo.wait', { ms }, { timeoutMs: ms + 30_000 }), { waitedMs: ms });
});
