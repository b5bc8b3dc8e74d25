/**
 * A benchmark worker process. It hosts the services its config names, each either a natsrpc
 * worker (`rpc`), the plain-`nats` baseline (`plain`: a queue-group subscription answering with
 * `msg.respond`), or `codec`: the baseline plus natsrpc's envelope codec and nothing else (decode
 * the request envelope, encode the reply envelope), which tells the cost of the envelope from the
 * cost of the runtime. All run in the same processes, so A/B pairs share them. A service's handler
 * echoes its payload, after `delayMs` when that is set.
 */
import { connect as natsConnect, type Msg, type NatsConnection, type Subscription } from 'nats';
import { defineWorker, startWorker, type RpcWorker } from '../../src/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { decodeRequest } from '../../src/protocol/codec.js';
import { okReply } from '../../src/worker/replies.js';
import type { RoutingMode } from '../../src/worker/load-aware-routing.js';
import { serveCommands } from '../lib/ipc.js';

export interface ServiceSpec {
  name: string;
  kind: 'rpc' | 'plain' | 'codec';
  /** Handler delay in ms (an I/O wait); 0 answers at once. */
  delayMs: number;
  /** rpc: the worker's concurrency limit; plain: handlers run one after another when 1. */
  concurrency: number;
  routing?: RoutingMode;
  /** Starts out of the queue group when false. */
  active?: boolean;
}

export interface WorkerConfig {
  url: string;
  services: ServiceSpec[];
}

const config = JSON.parse(process.argv[2]!) as WorkerConfig;
const logger = createLogger('bench-worker', process.env.LOG_LEVEL ?? 'warn');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Hosted {
  setActive(active: boolean): Promise<void>;
  stats(): unknown;
  stop(): Promise<void>;
}

async function hostRpc(spec: ServiceSpec): Promise<Hosted> {
  const delay = spec.delayMs;
  const definition = defineWorker({
    service: spec.name,
    methods: {
      run: delay > 0 ? async (p: unknown) => {
        await sleep(delay);
        return p;
      } : (p: unknown) => p,
    },
  });
  const worker: RpcWorker = await startWorker(definition, {
    servers: config.url,
    concurrency: spec.concurrency,
    routing: spec.routing,
    logger,
  });
  if (spec.active === false) await worker.drain();
  return {
    setActive: (active) => (active ? worker.resume() : worker.drain()),
    stats: () => worker.snapshot(),
    stop: () => worker.stop(),
  };
}

async function hostPlain(spec: ServiceSpec, nc: NatsConnection): Promise<Hosted> {
  const delay = spec.delayMs;
  const serial = spec.concurrency === 1 && delay > 0;
  const queue: Msg[] = [];
  let busy = false;
  let served = 0;
  const runNext = () => {
    const msg = queue.shift();
    if (msg === undefined) {
      busy = false;
      return;
    }
    busy = true;
    setTimeout(() => {
      msg.respond(msg.data);
      served++;
      runNext();
    }, delay);
  };
  const callback = delay === 0
    ? (_err: Error | null, msg: Msg) => {
      msg.respond(msg.data);
    }
    : serial
      ? (_err: Error | null, msg: Msg) => {
        queue.push(msg);
        if (!busy) runNext();
      }
      : (_err: Error | null, msg: Msg) => {
        setTimeout(() => {
          msg.respond(msg.data);
          served++;
        }, delay);
      };
  const subscribe = () => nc.subscribe(`plain.${spec.name}`, { queue: spec.name, callback });
  let sub: Subscription | null = spec.active === false ? null : subscribe();
  await nc.flush();
  return {
    async setActive(active) {
      if (active && sub === null) sub = subscribe();
      if (!active && sub !== null) {
        const s = sub;
        sub = null;
        await s.drain();
      }
      await nc.flush();
    },
    stats: () => ({ served, queued: queue.length }),
    stop: async () => {
      if (sub !== null) await sub.drain().catch(() => undefined);
    },
  };
}

/** The envelope codec alone: no context, deadline, stats or limits, the payload echoed at once. */
async function hostCodec(spec: ServiceSpec, nc: NatsConnection): Promise<Hosted> {
  let served = 0;
  const sub = nc.subscribe(`codec.${spec.name}.*`, {
    queue: spec.name,
    callback: (_err, msg) => {
      const req = decodeRequest(msg.data);
      msg.respond(okReply(req.id, req.payload));
      served++;
    },
  });
  await nc.flush();
  return {
    setActive: async () => undefined,
    stats: () => ({ served }),
    stop: async () => {
      await sub.drain().catch(() => undefined);
    },
  };
}

const hosted = new Map<string, Hosted>();
let plainNc: NatsConnection | null = null;

async function main(): Promise<void> {
  for (const spec of config.services) {
    if (spec.kind === 'plain' || spec.kind === 'codec') {
      plainNc ??= await natsConnect({ servers: config.url, noAsyncTraces: true, name: 'bench-plain-worker' });
      const host = spec.kind === 'plain' ? hostPlain : hostCodec;
      hosted.set(`${spec.kind}:${spec.name}`, await host(spec, plainNc));
    } else {
      hosted.set(`rpc:${spec.name}`, await hostRpc(spec));
    }
  }
  serveCommands(
    {
      ready: () => true,
      set: async ({ key, active }: { key: string; active: boolean }) => {
        const h = hosted.get(key);
        if (h === undefined) throw new Error(`no service ${key}`);
        await h.setActive(active);
      },
      stats: () => ({
        rssMb: process.memoryUsage().rss / 1_048_576,
        cpu: process.cpuUsage(),
        services: Object.fromEntries([...hosted].map(([k, h]) => [k, h.stats()])),
      }),
    },
    async () => {
      await Promise.all([...hosted.values()].map((h) => h.stop().catch(() => undefined)));
      if (plainNc !== null) await plainNc.close().catch(() => undefined);
    },
  );
}

main().catch((err) => {
  process.stderr.write(`bench worker failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
