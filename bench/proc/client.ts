/**
 * The benchmark client process: a closed loop of `inFlight` callers, each calling again as soon as
 * its last call ends, through natsrpc (`rpc`) or through the plain-`nats` baseline (`plain`).
 * Latencies go into an HDR histogram in microseconds, from the first attempt to the final answer.
 */
import { connect as natsConnect, createInbox, type Msg, type NatsConnection } from 'nats';
import * as hdr from 'hdr-histogram-js';
import { connect, RpcError, type RpcClient } from '../../src/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { decodeReply, encodeRequest } from '../../src/protocol/codec.js';
import { serveCommands } from '../lib/ipc.js';

export interface RunSpec {
  /** `codec`: the plain pattern carrying natsrpc envelopes, to a `codec` service (see worker.ts). */
  mode: 'rpc' | 'plain' | 'codec';
  service: string;
  payloadBytes: number;
  inFlight: number;
  warmupMs: number;
  durationMs: number;
  timeoutMs: number;
  /** Retry OVERLOADED and NO_RESPONDERS after 1 ms, as a resilient caller would. */
  retryRejected: boolean;
  /** When set, successful calls are also counted per bucket of this many ms (for failover). */
  bucketMs?: number;
  /** rpc mode: call as idempotent (acks, resends after a lost worker). */
  idempotent?: boolean;
}

/** Failures whose end time a run keeps (ms since the measurement started). */
const MAX_FAILURE_TIMES = 10_000;

export interface RunResult {
  ok: number;
  failed: Record<string, number>;
  rejected: number;
  elapsedMs: number;
  rps: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
  buckets?: number[];
  /** With `bucketMs`: when each failed call ended, ms since the measurement started (bounded). */
  failureEndsMs?: number[];
  cpuMs: number;
  rssMb: number;
  maxRssMb: number;
}

const config = JSON.parse(process.argv[2]!) as { url: string };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The baseline: the fastest request/reply the `nats` package allows. Publish with a reply subject
 * under one wildcard inbox subscription, a map of pending calls, and timeouts swept on a coarse
 * tick (no clock read per call).
 */
class PlainClient {
  readonly #nc: NatsConnection;
  readonly #inbox = createInbox() + '.';
  readonly #pending = new Map<number, { resolve: (d: Uint8Array) => void; reject: (e: Error) => void; tick: number }>();
  readonly #sweep: ReturnType<typeof setInterval>;
  #seq = 0;
  #ids = 0;
  readonly #idPrefix = 'bench-codec.';
  #tick = 0;
  timeoutTicks = 50;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    const len = this.#inbox.length;
    nc.subscribe(this.#inbox + '*', {
      callback: (_err, msg: Msg) => {
        const seq = Number(msg.subject.slice(len));
        const p = this.#pending.get(seq);
        if (p === undefined) return;
        this.#pending.delete(seq);
        if (msg.headers?.code === 503) p.reject(new PlainError('NO_RESPONDERS'));
        else p.resolve(msg.data);
      },
    });
    this.#sweep = setInterval(() => {
      const expired = ++this.#tick - this.timeoutTicks;
      for (const [seq, p] of this.#pending) {
        if (p.tick <= expired) {
          this.#pending.delete(seq);
          p.reject(new PlainError('TIMEOUT'));
        }
      }
    }, 20);
  }

  /** A call through the envelope codec only: what natsrpc's wire format costs by itself. */
  async requestEnvelope(subject: string, payload: Uint8Array, timeoutMs: number): Promise<unknown> {
    const id = `${this.#idPrefix}${(++this.#ids).toString(36)}`;
    const data = encodeRequest({ v: 1, id, method: 'run', budgetMs: timeoutMs, attempt: 1, sentAt: Date.now(), payload });
    const reply = decodeReply(await this.request(subject, data));
    if (!reply.ok) throw new PlainError(reply.error.code);
    return reply.result;
  }

  request(subject: string, data: Uint8Array): Promise<Uint8Array> {
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject, tick: this.#tick });
      this.#nc.publish(subject, data, { reply: this.#inbox + seq });
    });
  }

  close(): void {
    clearInterval(this.#sweep);
  }
}

class PlainError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

let rpc: RpcClient;
let plainNc: NatsConnection;
let plain: PlainClient;
let maxRss = 0;

function payloadOf(bytes: number): Uint8Array {
  const p = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) p[i] = (i * 31 + 7) & 0xff;
  return p;
}

async function run(spec: RunSpec): Promise<RunResult> {
  const payload = payloadOf(spec.payloadBytes);
  const subject = `plain.${spec.service}`;
  const codecSubject = `codec.${spec.service}.run`;
  const target = `${spec.service}.run`;
  const callOptions = { timeoutMs: spec.timeoutMs, idempotent: spec.idempotent === true ? true : undefined };
  plain.timeoutTicks = Math.ceil(spec.timeoutMs / 20);
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const failed: Record<string, number> = {};
  let ok = 0;
  let rejected = 0;
  let measuring = false;
  let stopping = false;
  let measureStart = 0;
  const buckets: number[] = [];
  const failureEndsMs: number[] = [];
  const bucketMs = spec.bucketMs ?? 0;

  const once = async (): Promise<string | null> => {
    while (true) {
      try {
        if (spec.mode === 'rpc') await rpc.call(target, payload, callOptions);
        else if (spec.mode === 'codec') await plain.requestEnvelope(codecSubject, payload, spec.timeoutMs);
        else await plain.request(subject, payload);
        return null;
      } catch (err) {
        const code = err instanceof RpcError || err instanceof PlainError ? err.code : 'ERROR';
        if (spec.retryRejected && (code === 'OVERLOADED' || code === 'NO_RESPONDERS') && !stopping) {
          if (measuring) rejected++;
          await sleep(1);
          continue;
        }
        return code;
      }
    }
  };

  const loop = async () => {
    while (!stopping) {
      const t0 = performance.now();
      const code = await once();
      const t1 = performance.now();
      if (!measuring) continue;
      if (code === null) {
        ok++;
        hist.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
        if (bucketMs > 0) {
          const b = Math.floor((t1 - measureStart) / bucketMs);
          while (buckets.length <= b) buckets.push(0);
          buckets[b]!++;
        }
      } else {
        failed[code] = (failed[code] ?? 0) + 1;
        if (bucketMs > 0 && failureEndsMs.length < MAX_FAILURE_TIMES) failureEndsMs.push(t1 - measureStart);
      }
    }
  };

  maxRss = process.memoryUsage().rss;
  const loops = Array.from({ length: spec.inFlight }, loop);
  const rssTimer = setInterval(() => {
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
  }, 100);
  await sleep(spec.warmupMs);
  const cpu0 = process.cpuUsage();
  measuring = true;
  measureStart = performance.now();
  await sleep(spec.durationMs);
  measuring = false;
  const elapsedMs = performance.now() - measureStart;
  const cpu = process.cpuUsage(cpu0);
  stopping = true;
  await Promise.all(loops);
  clearInterval(rssTimer);
  const rss = process.memoryUsage().rss;
  maxRss = Math.max(maxRss, rss);
  const result: RunResult = {
    ok,
    failed,
    rejected,
    elapsedMs,
    rps: (ok * 1000) / elapsedMs,
    p50Us: hist.getValueAtPercentile(50),
    p90Us: hist.getValueAtPercentile(90),
    p99Us: hist.getValueAtPercentile(99),
    p999Us: hist.getValueAtPercentile(99.9),
    maxUs: hist.maxValue,
    meanUs: hist.mean,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rssMb: rss / 1_048_576,
    maxRssMb: maxRss / 1_048_576,
  };
  if (bucketMs > 0) {
    result.buckets = buckets;
    result.failureEndsMs = failureEndsMs;
  }
  return result;
}

async function main(): Promise<void> {
  rpc = await connect({ servers: config.url, logger: createLogger('bench-client', 'warn'), timeoutMs: 10_000 });
  plainNc = await natsConnect({ servers: config.url, noAsyncTraces: true, name: 'bench-plain-client' });
  plain = new PlainClient(plainNc);
  serveCommands(
    {
      ready: () => true,
      run: (spec: RunSpec) => run(spec),
      resetMaxRss: () => {
        maxRss = 0;
      },
    },
    async () => {
      plain.close();
      await Promise.all([rpc.close(), plainNc.close()]).catch(() => undefined);
    },
  );
}

main().catch((err) => {
  process.stderr.write(`bench client failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
