/**
 * A simulated fleet: one process heartbeating for `count` workers, once per `intervalMs` each,
 * spread evenly over the interval in 10 ms ticks (not 10,000 processes). A simulated worker can be
 * stopped to measure how long a supervisor takes to notice.
 */
import { connect as natsConnect } from 'nats';
import { heartbeatSubject, simulatedHeartbeat } from '../lib/heartbeat-format.js';
import { serveCommands } from '../lib/ipc.js';

export interface HeartbeatConfig {
  url: string;
  prefix: string;
  count: number;
  services: number;
  intervalMs: number;
}

const TICK_MS = 10;
const config = JSON.parse(process.argv[2]!) as HeartbeatConfig;

async function main(): Promise<void> {
  const nc = await natsConnect({ servers: config.url, noAsyncTraces: true, name: 'bench-heartbeats' });
  const workers = Array.from({ length: config.count }, (_, i) => {
    const service = `sim${i % config.services}`;
    const id = `${service}-${i.toString(16).padStart(8, '0')}`;
    return { service, id, subject: heartbeatSubject(config.prefix, service, id), seq: 0, stopped: false };
  });
  const ticksPerInterval = Math.max(1, Math.round(config.intervalMs / TICK_MS));
  let tick = 0;
  let sent = 0;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const startedAt = Date.now();
  let next = performance.now();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const beat = () => {
    const slot = tick++ % ticksPerInterval;
    for (let i = slot; i < workers.length; i += ticksPerInterval) {
      const w = workers[i]!;
      if (w.stopped) continue;
      nc.publish(w.subject, simulatedHeartbeat(w.service, w.id, ++w.seq, config.intervalMs, startedAt));
      sent++;
    }
    next += TICK_MS;
    timer = setTimeout(beat, Math.max(0, next - performance.now()));
  };
  beat();
  serveCommands(
    {
      ready: () => true,
      /** Stops simulated worker `index`; answers its id and the wall-clock time it stopped. */
      stop: ({ index }: { index: number }) => {
        const w = workers[index]!;
        w.stopped = true;
        return { id: w.id, service: w.service, stoppedAt: Date.now() };
      },
      stats: () => {
        const elapsed = (performance.now() - started) / 1000;
        const cpu = process.cpuUsage(cpu0);
        return { sent, perSecond: sent / elapsed, cpuPercent: ((cpu.user + cpu.system) / 1e6 / elapsed) * 100 };
      },
    },
    async () => {
      if (timer !== null) clearTimeout(timer);
      await nc.flush().catch(() => undefined);
      await nc.close().catch(() => undefined);
    },
  );
}

main().catch((err) => {
  process.stderr.write(`heartbeat generator failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
