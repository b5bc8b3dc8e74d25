/**
 * Attack: another host reaches the supervisor's metrics or the dashboard because they listen on
 * every address. By default both listen on 127.0.0.1 only: reachable there, refused at another
 * address of the same machine. 127.0.0.2 stands for "another address": it is on the loopback
 * interface, so no traffic leaves the machine, and a server bound to 0.0.0.0 accepts it while one
 * bound to 127.0.0.1 refuses it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { freePort } from '../src/broker/local-server.js';
import { startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';
import { ChildHandle } from './helpers/processes.js';

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    socket.setTimeout(5_000, () => socket.destroy(new Error('timeout')));
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function assertLoopbackOnly(port: number, path: string, what: string): Promise<void> {
  assert.ok(await waitFor(async () => (await fetch(`http://127.0.0.1:${port}${path}`).catch(() => null))?.status === 200, 30_000), `${what} answers on 127.0.0.1`);
  assert.equal(await accepts('127.0.0.2', port), false, `${what} refuses connections at another address`);
}

test('the supervisor\'s metrics listen on 127.0.0.1 unless --metrics-host says otherwise', async () => {
  await using nats = await startNats();
  const port = await freePort();
  await using _sup = new ChildHandle(['supervisor', '--servers', nats.url, '--metrics-port', String(port)]);
  await assertLoopbackOnly(port, '/metrics', 'metrics');
  // The override is real: the same endpoint on every address is reachable at 127.0.0.2.
  const open = await freePort();
  await using _exposed = new ChildHandle(['supervisor', '--servers', nats.url, '--metrics-port', String(open), '--metrics-host', '0.0.0.0']);
  assert.ok(await waitFor(() => accepts('127.0.0.2', open), 30_000), '--metrics-host 0.0.0.0 listens on every address');
});

test('the dashboard listens on 127.0.0.1 by default', async () => {
  await using nats = await startNats();
  const port = await freePort();
  await using _dash = new ChildHandle(['dashboard', '--servers', nats.url, '--port', String(port)]);
  await assertLoopbackOnly(port, '/', 'the dashboard');
});
