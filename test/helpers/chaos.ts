/**
 * A bounded chaos run, shared by test/chaos.test.ts and bench/chaos.ts: a real nats-server on its
 * default settings (no ping tuning), a supervisor process with its default settings, 4 worker
 * processes (default 1 s heartbeats) and ~12 closed-loop idempotent callers with 4 s deadlines,
 * while a seeded sequence hits the workers: SIGKILL (respawned), SIGSTOP (SIGCONT a few seconds
 * later) and SIGTERM (graceful drain, respawned). Every loop is bounded in count and time, and
 * every process is stopped when the run ends, pass or fail (`await using`).
 */
import { connect as natsConnect } from 'nats';
import { connect, RpcError } from '../../src/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { decodeChecked } from '../../src/protocol/codec.js';
import { statusSubject } from '../../src/protocol/subjects.js';
import type { StatusReply } from '../../src/supervisor/status.js';
import { closing, startNats } from './nats.js';
import { ChildHandle, processGroup, spawnWorker, workerIdOf } from './processes.js';
import { sleep } from './load.js';

export type ChaosKind = 'kill' | 'stop' | 'term';

export interface ChaosOptions {
  seed: number;
  workers?: number;
  callers?: number;
  timeoutMs?: number;
  /** Events in all; each kind comes equally often, in a seeded order. */
  events?: number;
  /** Time between two events. */
  spacingMs?: number;
  /** How long a SIGSTOPped worker stays frozen: uniform in [min, max] ms. */
  freezeMs?: readonly [number, number];
  /** Load before the first event (the baseline rate) and after the last one. */
  warmupMs?: number;
  settleMs?: number;
  /** Upper bound on calls, whatever happens. */
  maxCalls?: number;
  /** Progress lines (events), e.g. `(line) => process.stderr.write(line + '\n')`. */
  log?: (line: string) => void;
}

export interface ChaosEvent {
  kind: ChaosKind;
  workerId: string;
  /** ms since the load started. */
  at: number;
  /** SIGCONT (stop) or the replacement ready (kill, term), ms since the load started. */
  endedAt?: number;
  /** Failed calls that ended between this event and the next one. */
  failures: number;
  /** The worst 500 ms window in the 3 s after the event, in % of the baseline rate. */
  worstPct: number;
  /** ms after the event until a 500 ms window reached 80% of the baseline again (after its worst). */
  recoveredAfterMs: number | null;
}

export interface ChaosFailure {
  at: number;
  code: string;
  message: string;
}

export interface ChaosResult {
  seed: number;
  calls: number;
  ok: number;
  failed: Record<string, number>;
  /** The first failures (at most 50), with their messages. */
  failures: ChaosFailure[];
  durationMs: number;
  /** Successful calls per second before the first event. */
  baselinePerS: number;
  /** The worst 500 ms window from the first event on: successful calls and % of the baseline. */
  worstWindow: { at: number; ok: number; pct: number };
  events: ChaosEvent[];
  /** Successful calls between consecutive events, and after the last one (each must be > 0). */
  okBetweenEvents: number[];
  /** Retry budget tokens spent and refused by the client. */
  budget: { spent: number; refused: number };
}

/** Deterministic 32-bit PRNG (mulberry32): the same seed gives the same sequence of events. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The seeded order of events: each kind equally often, shuffled. */
export function chaosSchedule(seed: number, events: number): ChaosKind[] {
  const random = seededRandom(seed);
  const kinds: ChaosKind[] = Array.from({ length: events }, (_, i) => (['kill', 'stop', 'term'] as const)[i % 3]!);
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds;
}

interface Slot {
  handle: ChildHandle;
  id: string;
  /** serving: may be hit; busy: frozen, draining or being replaced. */
  state: 'serving' | 'busy';
}

const BUCKET_MS = 100;
const WINDOW_BUCKETS = 5;
const SERVICE = 'ward';

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const {
    seed, workers = 4, callers = 12, timeoutMs = 4_000, events = 9, spacingMs = 4_000,
    freezeMs = [2_000, 6_000], warmupMs = 3_000, settleMs = 6_000, maxCalls = 400_000, log = () => undefined,
  } = options;
  const random = seededRandom(seed ^ 0x9e3779b9);
  const schedule = chaosSchedule(seed, events);

  await using nats = await startNats();
  await using procs = processGroup();
  const spawn = async (): Promise<Slot> => {
    const handle = await spawnWorker('test/fixtures/ward.ts', nats.url, [], { WARD_DIR: undefined });
    procs.push(handle);
    return { handle, id: workerIdOf(handle), state: 'serving' };
  };
  // A supervisor as users run it: default interval, policy and no $SYS rights.
  const sup = new ChildHandle(['supervisor', '--servers', nats.url]);
  procs.push(sup);
  await sup.waitForLine(/"msg":"supervisor ready"/);
  const slots: Slot[] = await Promise.all(Array.from({ length: workers }, spawn));
  // Its warnings (a worker lost while holding a request) come by the thousand here; failures are counted instead.
  const logger = createLogger('chaos-client', 'error');
  await using client = closing(await connect({ servers: nats.url, name: 'chaos', logger }), (c) => c.close());
  await using observer = closing(await natsConnect({ servers: nats.url, name: 'chaos-observer' }), (c) => c.close());
  // The workers the supervisor lets serve: it drains a frozen worker that comes back (ejection),
  // which the run must count, or a kill could leave no worker at all (NO_RESPONDERS is right then).
  const inGroup = async (): Promise<Set<string>> => {
    try {
      const reply = await observer.request(statusSubject('rpc'), new Uint8Array(0), { timeout: 1_000 });
      const status = decodeChecked(reply.data) as StatusReply;
      const svc = status.services.find((x) => x.service === SERVICE);
      return new Set(svc?.workers.filter((w) => w.state === 'serving').map((w) => w.id) ?? []);
    } catch {
      return new Set();
    }
  };
  await client.call(`${SERVICE}.work`, null, { idempotent: true, timeoutMs });

  const okAt: number[] = [];
  const failures: ChaosFailure[] = [];
  const failed: Record<string, number> = {};
  const start = Date.now();
  const totalMs = warmupMs + events * spacingMs + settleMs;
  const until = start + totalMs;
  let calls = 0;
  let stopped = false;
  const loops = Array.from({ length: callers }, async () => {
    while (!stopped && calls < maxCalls && Date.now() < until) {
      calls++;
      try {
        await client.call(`${SERVICE}.work`, null, { idempotent: true, timeoutMs });
        okAt.push(Date.now() - start);
      } catch (err) {
        const e = RpcError.from(err);
        failed[e.code] = (failed[e.code] ?? 0) + 1;
        if (failures.length < 50) failures.push({ at: Date.now() - start, code: e.code, message: e.message });
      }
    }
  });
  const done = Promise.all(loops);

  const happened: ChaosEvent[] = [];
  const pending: Promise<unknown>[] = [];
  try {
    await sleep(warmupMs);
    for (const kind of schedule) {
      const eventStart = Date.now();
      // Hit a serving worker, and leave at least two serving (bounded wait for one to come back):
      // serving by the run's own account (not frozen, draining or being replaced) and by the
      // supervisor's (not drained).
      const servingNow = async () => {
        const group = await inGroup();
        return slots.filter((s) => s.state === 'serving' && group.has(s.id));
      };
      let serving = await servingNow();
      while (serving.length < 3 && Date.now() - eventStart < spacingMs) {
        await sleep(200);
        serving = await servingNow();
      }
      if (serving.length < 3) {
        log(`chaos: skipped ${kind}: only ${serving.length} workers serving`);
        continue;
      }
      const slot = serving[Math.floor(random() * serving.length)]!;
      slot.state = 'busy';
      const event: ChaosEvent = { kind, workerId: slot.id, at: Date.now() - start, failures: 0, worstPct: 0, recoveredAfterMs: null };
      happened.push(event);
      log(`chaos: ${kind} ${slot.id} at ${event.at} ms`);
      if (kind === 'stop') {
        const ms = freezeMs[0] + Math.floor(random() * (freezeMs[1] - freezeMs[0]));
        slot.handle.signal('SIGSTOP');
        pending.push(sleep(ms).then(() => {
          slot.handle.signal('SIGCONT');
          slot.state = 'serving';
          event.endedAt = Date.now() - start;
        }));
      } else {
        slot.handle.signal(kind === 'kill' ? 'SIGKILL' : 'SIGTERM');
        pending.push(slot.handle.exited.then(async () => {
          if (stopped) return;
          const next = await spawn();
          slots[slots.indexOf(slot)] = next;
          event.endedAt = Date.now() - start;
        }));
      }
      const left = spacingMs - (Date.now() - eventStart);
      if (left > 0) await sleep(left);
    }
    await Promise.race([done, sleep(Math.max(0, until - Date.now()))]);
  } finally {
    stopped = true;
    for (const slot of slots) slot.handle.signal('SIGCONT');
    await done;
    await Promise.allSettled(pending);
  }
  const durationMs = Date.now() - start;
  const budget = client.retryBudget(SERVICE);
  return summarize({ seed, calls, okAt, failures, failed, events: happened, warmupMs, durationMs, budget: { spent: budget?.spent ?? 0, refused: budget?.refused ?? 0 }, allFailures: failures });
}

function summarize(r: {
  seed: number; calls: number; okAt: number[]; failures: ChaosFailure[]; failed: Record<string, number>; events: ChaosEvent[];
  warmupMs: number; durationMs: number; budget: { spent: number; refused: number }; allFailures: ChaosFailure[];
}): ChaosResult {
  const buckets = new Array<number>(Math.ceil(r.durationMs / BUCKET_MS) + 1).fill(0);
  for (const at of r.okAt) buckets[Math.floor(at / BUCKET_MS)]!++;
  // Windows of 500 ms starting at each bucket.
  const windowAt = (i: number) => {
    let n = 0;
    for (let k = i; k < i + WINDOW_BUCKETS && k < buckets.length; k++) n += buckets[k]!;
    return n;
  };
  const lastFull = buckets.length - WINDOW_BUCKETS - 1;
  // The baseline leaves out the first second (connections warming up).
  const baseFrom = Math.min(10, Math.floor(r.warmupMs / BUCKET_MS) - 1);
  const baseTo = Math.floor(r.warmupMs / BUCKET_MS);
  let baseOk = 0;
  for (let i = baseFrom; i < baseTo; i++) baseOk += buckets[i]!;
  const basePerWindow = (baseOk / Math.max(1, baseTo - baseFrom)) * WINDOW_BUCKETS;
  const pct = (n: number) => (basePerWindow > 0 ? Math.round((100 * n) / basePerWindow) : 0);
  const worst = { at: 0, ok: Infinity, pct: 0 };
  const firstEvent = r.events[0] === undefined ? baseTo : Math.floor(r.events[0].at / BUCKET_MS);
  for (let i = firstEvent; i <= lastFull; i++) {
    const n = windowAt(i);
    if (n < worst.ok) Object.assign(worst, { at: i * BUCKET_MS, ok: n, pct: pct(n) });
  }
  if (worst.ok === Infinity) worst.ok = 0;
  const okBetweenEvents: number[] = [];
  r.events.forEach((event, k) => {
    const next = r.events[k + 1]?.at ?? r.durationMs;
    event.failures = r.allFailures.filter((f) => f.at >= event.at && f.at < next).length;
    okBetweenEvents.push(r.okAt.filter((at) => at >= event.at && at < next).length);
    const from = Math.floor(event.at / BUCKET_MS);
    const to = Math.min(lastFull, from + 30);
    let worstI = from;
    let worstN = Infinity;
    for (let i = from; i <= to; i++) {
      const n = windowAt(i);
      if (n < worstN) [worstI, worstN] = [i, n];
    }
    event.worstPct = worstN === Infinity ? 0 : pct(worstN);
    for (let i = worstI; i <= lastFull; i++) {
      if (pct(windowAt(i)) >= 80) {
        event.recoveredAfterMs = Math.max(0, (i + WINDOW_BUCKETS) * BUCKET_MS - event.at);
        break;
      }
    }
  });
  return {
    seed: r.seed,
    calls: r.calls,
    ok: r.okAt.length,
    failed: r.failed,
    failures: r.failures,
    durationMs: r.durationMs,
    baselinePerS: Math.round((basePerWindow * 1000) / (WINDOW_BUCKETS * BUCKET_MS)),
    worstWindow: worst,
    events: r.events,
    okBetweenEvents,
    budget: r.budget,
  };
}
