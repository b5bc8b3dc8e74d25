/**
 * A supervisor process for scenario 5: the real `startSupervisor`, reporting its own CPU and RSS.
 */
import { startSupervisor } from '../../src/supervisor/start-supervisor.js';
import { createLogger } from '../../src/logging/logger.js';
import { serveCommands } from '../lib/ipc.js';

const config = JSON.parse(process.argv[2]!) as { url: string };

async function main(): Promise<void> {
  const sup = await startSupervisor({ servers: config.url, logger: createLogger('bench-supervisor', 'warn') });
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  let maxRss = 0;
  const rssTimer = setInterval(() => {
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
  }, 250);
  serveCommands(
    {
      /** Starts a measurement window. */
      mark: () => {
        cpu0 = process.cpuUsage();
        t0 = performance.now();
        maxRss = process.memoryUsage().rss;
      },
      stats: () => {
        const cpu = process.cpuUsage(cpu0);
        const seconds = (performance.now() - t0) / 1000;
        return { cpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100, rssMb: process.memoryUsage().rss / 1_048_576, maxRssMb: maxRss / 1_048_576 };
      },
    },
    async () => {
      clearInterval(rssTimer);
      await sup.close();
    },
  );
}

main().catch((err) => {
  process.stderr.write(`bench supervisor failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
