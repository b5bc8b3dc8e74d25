/**
 * The shipped least-privilege identities (config/nats/accounts.conf) on a broker started from the
 * shipped cluster.conf: a permission matrix where every forbidden operation is refused by the
 * broker and nothing reaches anyone, next to the allowed operations that do work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection, Subscription } from 'nats';
import { connect, startWorker } from '../src/index.js';
import { startSupervisor } from '../src/supervisor/start-supervisor.js';
import { openConnection } from '../src/connection/options.js';
import { createLogger } from '../src/logging/logger.js';
import math from '../workers/math.js';
import { identity, startSingleNode } from './helpers/cluster.js';
import { sleep, waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');
type Who = Parameters<typeof identity>[0];

interface Violation {
  operation: string;
  subject: string;
  queue?: string;
}

/** A connection as one identity that records the permission violations the broker reports to it. */
class Conn {
  readonly violations: Violation[] = [];
  private constructor(readonly who: Who, readonly nc: NatsConnection) {
    void (async () => {
      for await (const s of nc.status()) {
        const ctx = (s as { permissionContext?: Violation }).permissionContext;
        if (s.type === 'error' && ctx) this.violations.push(ctx);
      }
    })();
  }

  static async open(url: string, who: Who): Promise<Conn> {
    return new Conn(who, await openConnection({ servers: url, ...identity(who) }));
  }

  /** Waits for the broker to refuse `operation` on `subject` (and `queue`). */
  refused(operation: 'publish' | 'subscription', subject: string, queue?: string): Promise<boolean> {
    return waitFor(() => this.violations.some((v) => v.operation === operation && v.subject === subject && v.queue === queue), 15_000);
  }
}

/** Counts what a subscription receives. */
function counter(c: Conn, subject: string, queue?: string): { n: number; sub: Subscription } {
  const box = { n: 0, sub: null as unknown as Subscription };
  box.sub = c.nc.subscribe(subject, { queue, callback: (err) => void (err === null && box.n++) });
  return box;
}

interface ForbiddenSub {
  who: Who;
  subject: string;
  queue?: string;
  /** An allowed publish that the forbidden subscription would have matched, and who legitimately receives it. */
  feed?: { who: Who; subject: string; legit: { who: Who; subject: string; queue?: string } };
}

const FORBIDDEN_SUBSCRIPTIONS: ForbiddenSub[] = [
  { who: 'caller', subject: 'rpc.math.*', feed: { who: 'caller', subject: 'rpc.math.add', legit: { who: 'math', subject: 'rpc.math.*', queue: 'math' } } },
  { who: 'caller', subject: 'rpc.math.*', queue: 'math', feed: { who: 'caller', subject: 'rpc.math.add', legit: { who: 'math', subject: 'rpc.math.*', queue: 'math' } } },
  { who: 'caller', subject: '_INBOX.>' },
  { who: 'caller', subject: '_INBOX_supervisor.>' },
  // Each caller application reads only its own replies.
  { who: 'caller', subject: '_INBOX_caller_b.>' },
  { who: 'caller_b', subject: '_INBOX_caller.>' },
  { who: 'caller_b', subject: '_INBOX.>' },
  { who: 'caller', subject: 'rpc._hb.>', feed: { who: 'math', subject: 'rpc._hb.math.w1', legit: { who: 'supervisor', subject: 'rpc._hb.>' } } },
  { who: 'caller', subject: 'rpc._ctl.*.*', feed: { who: 'supervisor', subject: 'rpc._ctl.math.w1', legit: { who: 'math', subject: 'rpc._ctl.math.*' } } },
  // A service hears only its own service's control commands and probes (it could answer or blind them).
  { who: 'math', subject: 'rpc._ctl.echo.*', feed: { who: 'supervisor', subject: 'rpc._ctl.echo.w1', legit: { who: 'echo', subject: 'rpc._ctl.echo.*' } } },
  { who: 'math', subject: 'rpc._ping.echo.*', feed: { who: 'caller', subject: 'rpc._ping.echo.w1', legit: { who: 'echo', subject: 'rpc._ping.echo.*' } } },
  { who: 'math', subject: 'rpc._ping.*.*' },
  { who: 'math', subject: 'rpc._ctl.>' },
  { who: 'math', subject: 'rpc.math.*', feed: { who: 'caller', subject: 'rpc.math.add', legit: { who: 'math', subject: 'rpc.math.*', queue: 'math' } } },
  { who: 'math', subject: 'rpc.math.*', queue: 'thieves', feed: { who: 'caller', subject: 'rpc.math.add', legit: { who: 'math', subject: 'rpc.math.*', queue: 'math' } } },
  { who: 'math', subject: 'rpc.echo.*', queue: 'echo', feed: { who: 'caller', subject: 'rpc.echo.echo', legit: { who: 'echo', subject: 'rpc.echo.*', queue: 'echo' } } },
  { who: 'math', subject: 'rpc.>' },
  { who: 'math', subject: '_INBOX_caller.>' },
  { who: 'math', subject: 'rpc._hb.>', feed: { who: 'echo', subject: 'rpc._hb.echo.w1', legit: { who: 'supervisor', subject: 'rpc._hb.>' } } },
  { who: 'supervisor', subject: 'rpc.math.*', queue: 'math', feed: { who: 'caller', subject: 'rpc.math.add', legit: { who: 'math', subject: 'rpc.math.*', queue: 'math' } } },
  { who: 'supervisor', subject: '_INBOX_caller.>' },
  { who: 'math', subject: 'rpc._cancel.echo', feed: { who: 'caller', subject: 'rpc._cancel.echo', legit: { who: 'echo', subject: 'rpc._cancel.echo' } } },
  { who: 'caller', subject: 'rpc._sup.status' },
];

interface ForbiddenPub {
  who: Who;
  subject: string;
  /** Who would receive it if the broker let it through (allowed to subscribe there). */
  observer: { who: Who; subject: string; queue?: string };
}

const FORBIDDEN_PUBLISHES: ForbiddenPub[] = [
  { who: 'caller', subject: 'rpc._ctl.math.w1', observer: { who: 'math', subject: 'rpc._ctl.math.*' } },
  { who: 'caller', subject: 'rpc._hb.math.w1', observer: { who: 'supervisor', subject: 'rpc._hb.>' } },
  { who: 'math', subject: 'rpc._ctl.echo.w1', observer: { who: 'echo', subject: 'rpc._ctl.echo.*' } },
  { who: 'echo', subject: 'rpc._ctl.math.w1', observer: { who: 'math', subject: 'rpc._ctl.math.*' } },
  { who: 'math', subject: 'rpc._hb.echo.w1', observer: { who: 'supervisor', subject: 'rpc._hb.>' } },
  { who: 'math', subject: 'rpc.echo.echo', observer: { who: 'echo', subject: 'rpc.echo.*', queue: 'echo' } },
  { who: 'math', subject: '_INBOX_caller.forged.1', observer: { who: 'caller', subject: '_INBOX_caller.>' } },
  // A caller cannot answer another caller's calls by publishing to its inbox.
  { who: 'caller', subject: '_INBOX_caller_b.forged.1', observer: { who: 'caller_b', subject: '_INBOX_caller_b.>' } },
  { who: 'caller_b', subject: '_INBOX_caller.forged.1', observer: { who: 'caller', subject: '_INBOX_caller.>' } },
  { who: 'supervisor', subject: 'rpc.math.add', observer: { who: 'math', subject: 'rpc.math.*', queue: 'math' } },
  { who: 'supervisor', subject: 'rpc._hb.math.w1', observer: { who: 'supervisor', subject: 'rpc._hb.>' } },
  { who: 'caller', subject: 'rpc._sup.hb', observer: { who: 'supervisor', subject: 'rpc._sup.hb' } },
  { who: 'math', subject: 'rpc._sup.hb', observer: { who: 'caller', subject: 'rpc._sup.hb' } },
  { who: 'caller', subject: 'rpc._evt.math', observer: { who: 'caller', subject: 'rpc._evt.>' } },
  { who: 'math', subject: 'rpc._cancel.math', observer: { who: 'math', subject: 'rpc._cancel.math' } },
];

test('permission matrix: every forbidden subscription is refused by the broker and receives nothing', async () => {
  await using nats = await startSingleNode();
  const opened: Conn[] = [];
  const open = async (who: Who) => {
    const c = await Conn.open(nats.url, who);
    opened.push(c);
    return c;
  };
  try {
    for (const row of FORBIDDEN_SUBSCRIPTIONS) {
      const label = `${row.who} subscribing to ${row.subject}${row.queue ? ` in queue ${row.queue}` : ''}`;
      const spy = await open(row.who);
      const got = counter(spy, row.subject, row.queue);
      assert.ok(await spy.refused('subscription', row.subject, row.queue), `refused: ${label}`);
      if (row.feed) {
        const legit = await open(row.feed.legit.who);
        const legitGot = counter(legit, row.feed.legit.subject, row.feed.legit.queue);
        await legit.nc.flush();
        const feeder = await open(row.feed.who);
        feeder.nc.publish(row.feed.subject, new Uint8Array([1]));
        await feeder.nc.flush();
        assert.ok(await waitFor(() => legitGot.n === 1, 15_000), `control: ${row.feed.legit.who} receives ${row.feed.subject}`);
        await spy.nc.flush();
        assert.equal(got.n, 0, `nothing delivered: ${label}`);
      }
      // Legitimate queue members of earlier rows would share the load of later ones.
      await Promise.all(opened.splice(0).map((c) => c.nc.close()));
    }
  } finally {
    await Promise.all(opened.map((c) => c.nc.close()));
  }
});

test('permission matrix: every forbidden publish is refused by the broker and delivered to no one', async () => {
  await using nats = await startSingleNode();
  const opened: Conn[] = [];
  const open = async (who: Who) => {
    const c = await Conn.open(nats.url, who);
    opened.push(c);
    return c;
  };
  try {
    for (const row of FORBIDDEN_PUBLISHES) {
      const observer = await open(row.observer.who);
      const seen = counter(observer, row.observer.subject, row.observer.queue);
      await observer.nc.flush();
      const sender = await open(row.who);
      sender.nc.publish(row.subject, new Uint8Array([1]));
      assert.ok(await sender.refused('publish', row.subject), `refused: ${row.who} publishing to ${row.subject}`);
      await observer.nc.flush();
      await sleep(20);
      assert.equal(seen.n, 0, `nothing delivered: ${row.who} publishing to ${row.subject}`);
      await Promise.all(opened.splice(0).map((c) => c.nc.close()));
    }
  } finally {
    await Promise.all(opened.map((c) => c.nc.close()));
  }
});

test('allowed operations work: calls, replies to the caller only, heartbeats to the supervisor, control commands from the supervisor', async () => {
  await using nats = await startSingleNode();
  const worker = await startWorker(math, { servers: nats.url, ...identity('math'), logger: quiet });
  const client = await connect({ servers: nats.url, ...identity('caller'), logger: quiet });
  const opened: Conn[] = [];
  try {
    assert.equal(await client.call('math.add', { a: 2, b: 3 }), 5, 'caller → math worker → reply to the caller inbox');
    const supervisor = await Conn.open(nats.url, 'supervisor');
    const worker2 = await Conn.open(nats.url, 'math');
    opened.push(supervisor, worker2);
    const standby = await Conn.open(nats.url, 'supervisor');
    opened.push(standby);
    const beats = counter(supervisor, 'rpc._hb.>');
    const commands = counter(worker2, 'rpc._ctl.math.*');
    // A standby supervisor follows the leader's events.
    const events = counter(standby, 'rpc._evt.>');
    await Promise.all([supervisor.nc.flush(), worker2.nc.flush(), standby.nc.flush()]);
    worker2.nc.publish('rpc._hb.math.w1', new Uint8Array([1]));
    supervisor.nc.publish('rpc._ctl.math.w1', new Uint8Array([1]));
    supervisor.nc.publish('rpc._evt.math', new Uint8Array([1]));
    assert.ok(await waitFor(() => beats.n === 1 && commands.n === 1 && events.n === 1, 15_000), 'heartbeat, control command and event delivered');
    assert.deepEqual([...supervisor.violations, ...worker2.violations, ...standby.violations], []);
    // Wrong or missing credentials are refused at connect time.
    await assert.rejects(
      openConnection({ servers: nats.url, user: 'caller', pass: 'wrong' }),
      (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && /Authorization Violation/i.test(e.message),
    );
    await assert.rejects(openConnection({ servers: nats.url }), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE');
  } finally {
    await Promise.all(opened.map((c) => c.nc.close()));
    await client.close();
    await worker.stop();
  }
});

test('the real supervisor, connected as the supervisor identity, subscribes and publishes only where it may', async () => {
  await using nats = await startSingleNode();
  const conn = await Conn.open(nats.url, 'supervisor');
  const sup = await startSupervisor({ connection: conn.nc, intervalMs: 100, logger: quiet });
  const worker = await startWorker(math, { servers: nats.url, ...identity('math'), logger: quiet, heartbeatIntervalMs: 100 });
  const caller = await Conn.open(nats.url, 'caller');
  try {
    // Status answered by the leader lists the worker: heartbeats, status requests and the answer went through.
    assert.ok(
      await waitFor(async () => {
        const reply = await caller.nc.request('rpc._sup.status', new Uint8Array(0), { timeout: 500 }).catch(() => null);
        return reply !== null && sup.leader && sup.registry.get(worker.id) !== undefined;
      }, 5_000),
      'the supervisor leads, hears the worker and answers status',
    );
    await conn.nc.flush();
    await sleep(20);
    assert.deepEqual(conn.violations, [], 'no permission violation for any of its subscriptions or publications');
  } finally {
    await worker.stop();
    await sup.close();
    await Promise.all([conn.nc.close(), caller.nc.close()]);
  }
});
