/**
 * The producing process of bench/streams.ts: a natsrpc worker whose `bench.items` streams `n`
 * items of `size` bytes, and the plain-`nats` baseline publishing the same items to a subject.
 * Both send the same pre-made `Uint8Array`, so the work left is what each moves.
 */
import { connect as natsConnect } from 'nats';
import { defineWorker, startWorker } from '../../src/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { serveCommands } from '../lib/ipc.js';
import { cpuMs } from '../lib/cpu.js';

const { url } = JSON.parse(process.argv[2]!) as { url: string };
const item = (size: number) => new Uint8Array(size).fill(7);

const worker = await startWorker(
  defineWorker({
    service: 'bench',
    methods: {
      items: async function* ({ n, size }: { n: number; size: number }) {
        const data = item(size);
        for (let i = 0; i < n; i++) yield data;
      },
    },
  }),
  { servers: url, logger: createLogger('bench-stream', 'warn'), heartbeat: false },
);
const nc = await natsConnect({ servers: url });

serveCommands(
  {
    /** Publishes `n` items of `size` bytes on `subject`, flushing every `batch` like a careful publisher. */
    publish: async ({ subject, n, size }: { subject: string; n: number; size: number }) => {
      const data = item(size);
      const batch = Math.max(1, Math.floor((256 * 1024) / size));
      for (let i = 0; i < n; i++) {
        nc.publish(subject, data);
        if (i % batch === batch - 1) await nc.flush();
      }
      await nc.flush();
    },
    cpu: () => cpuMs(),
    memory: () => ({ rss: process.memoryUsage().rss, maxRss: process.resourceUsage().maxRSS * 1024 }),
  },
  async () => {
    await worker.stop();
    await nc.close();
  },
);
