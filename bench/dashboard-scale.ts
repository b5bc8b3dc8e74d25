/**
 * The dashboard at scale (issue 12): 1,000 simulated workers heartbeating once a second (the
 * bench's generator, 20 services), a real supervisor, `natsrpc dashboard` as its own process and a
 * headless Chromium showing the page. Measures, in rounds:
 *   - how long one live update takes to render in the browser (from the stream message to the next
 *     painted frame, and the script part alone), from the page's own `natsrpcDashboard` timings;
 *   - the dashboard process's CPU (% of one core, from /proc) with the page open, and with no page
 *     open as the baseline of the same round.
 *
 *   node --import tsx bench/dashboard-scale.ts [--workers 1000] [--rounds 3] [--seconds 15]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LocalNatsServer } from '../src/broker/local-server.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { BenchChild } from './lib/ipc.js';
import { table } from './lib/report.js';
import { cpuSecondsOf, rssMbOf } from './scenarios/supervisor.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({ options: { workers: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '15' } } });
const WORKERS = Number(values.workers);
const ROUNDS = Number(values.rounds);
const WINDOW_MS = Number(values.seconds) * 1_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/** CPU % of one core used by `pid` over `ms`. */
async function cpuOver(pid: number, ms: number): Promise<number> {
  const c0 = cpuSecondsOf(pid);
  const t0 = performance.now();
  await sleep(ms);
  return ((cpuSecondsOf(pid) - c0) / ((performance.now() - t0) / 1_000)) * 100;
}

/** CPU seconds used by `root` and all its descendants (the browser and its renderer, GPU... processes). */
function treeCpuSeconds(root: number): number {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone
    }
  }
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += cpuSecondsOf(pid) || 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

interface Timings {
  renders: number;
  renderMs: number[];
  scriptMs: number[];
}

await using nats = await LocalNatsServer.start({});
await using sup = new BenchChild('supervisor.ts', { url: nats.url });
await sup.ready;
await using gen = new BenchChild('heartbeats.ts', { url: nats.url, prefix: 'rpc', count: WORKERS, services: 20, intervalMs: 1_000 });
await gen.ready;
const dash = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'dashboard', '--servers', nats.url, '--port', '0'], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const url = await new Promise<string>((resolve, reject) => {
    dash.stdout!.setEncoding('utf8').on('data', (s: string) => {
      const m = /"url":"([^"]+)"/.exec(s);
      if (m) resolve(m[1]!);
    });
    dash.once('exit', (code) => reject(new Error(`dashboard exited ${code}`)));
  });
  await using chrome = await launchBrowser();
  const rows: Record<string, string | number>[] = [];
  const all = { mainThread: [] as number[], browserCpu: [] as number[], render: [] as number[], script: [] as number[], cpuOpen: [] as number[], cpuIdle: [] as number[] };
  for (let round = 1; round <= ROUNDS; round++) {
    // Baseline: the dashboard reading the bus with no page open.
    const cpuIdle = await cpuOver(dash.pid!, WINDOW_MS);
    const page = await chrome.open(url, { width: 1600, height: 1000 });
    await page.waitForFunction((n: number) => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('tr[data-worker-id][data-state="serving"]').length >= n, { timeout: 60_000, polling: 200 }, WORKERS);
    await sleep(2_000); // past the snapshot's first render
    const before = (await page.evaluate(() => (globalThis as unknown as { natsrpcDashboard: Timings }).natsrpcDashboard.renders)) as number;
    const cdp = await page.createCDPSession();
    await cdp.send('Performance.enable');
    const metric = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const m0 = await metric();
    const browserCpu0 = treeCpuSeconds(chrome.browser.process()!.pid!);
    const cpuOpen = await cpuOver(dash.pid!, WINDOW_MS);
    const browserCpu = treeCpuSeconds(chrome.browser.process()!.pid!) - browserCpu0;
    const m1 = await metric();
    const t = (await page.evaluate(() => {
      const s = (globalThis as unknown as { natsrpcDashboard: Timings }).natsrpcDashboard;
      return { renders: s.renders, renderMs: s.renderMs, scriptMs: s.scriptMs };
    })) as Timings;
    const updates = t.renders - before;
    const n = Math.min(updates, t.renderMs.length);
    const perUpdate = (k: string) => ((m1[k]! - m0[k]!) * 1_000) / updates;
    const mainThreadMs = perUpdate('TaskDuration');
    const browserCpuMs = (browserCpu * 1_000) / updates;
    all.mainThread.push(mainThreadMs);
    all.browserCpu.push(browserCpuMs);
    const render = t.renderMs.slice(-n);
    const script = t.scriptMs.slice(-n);
    await page.close();
    all.render.push(...render);
    all.script.push(...script);
    all.cpuOpen.push(cpuOpen);
    all.cpuIdle.push(cpuIdle);
    rows.push({
      round,
      updates: n,
      'render p50 ms': quantile(render, 0.5).toFixed(1),
      'render p95 ms': quantile(render, 0.95).toFixed(1),
      'render max ms': Math.max(...render).toFixed(1),
      'script p50 ms': quantile(script, 0.5).toFixed(1),
      'main-thread ms / update': mainThreadMs.toFixed(1),
      'of which script / style / layout ms': [perUpdate('ScriptDuration'), perUpdate('RecalcStyleDuration'), perUpdate('LayoutDuration')].map((x) => x.toFixed(1)).join(' / '),
      'browser CPU ms / update': browserCpuMs.toFixed(1),
      'dashboard CPU % (page open)': cpuOpen.toFixed(1),
      'dashboard CPU % (no page)': cpuIdle.toFixed(1),
      'dashboard RSS MB': Math.round(rssMbOf(dash.pid!)),
      'load avg': loadavg()[0]!.toFixed(2),
    });
  }
  process.stdout.write(`dashboard at scale: ${WORKERS} simulated workers (20 services, 1 heartbeat/s each), a supervisor, one page, ${ROUNDS} rounds of ${WINDOW_MS / 1000} s\n`);
  process.stdout.write(table(rows) + '\n');
  process.stdout.write(`per update, all rounds: browser main-thread work ${Math.min(...all.mainThread).toFixed(1)}-${Math.max(...all.mainThread).toFixed(1)} ms, CPU of all browser processes ${Math.min(...all.browserCpu).toFixed(1)}-${Math.max(...all.browserCpu).toFixed(1)} ms\n`);
  process.stdout.write(`all rounds: render p50 ${quantile(all.render, 0.5).toFixed(1)} ms, p95 ${quantile(all.render, 0.95).toFixed(1)} ms, max ${Math.max(...all.render).toFixed(1)} ms; dashboard CPU ${Math.min(...all.cpuOpen).toFixed(1)}-${Math.max(...all.cpuOpen).toFixed(1)} % of one core with the page open, ${Math.min(...all.cpuIdle).toFixed(1)}-${Math.max(...all.cpuIdle).toFixed(1)} % without\n`);
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}dashboard-scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify({ workers: WORKERS, rounds: rows, all }, null, 2));
} finally {
  dash.kill('SIGTERM');
}
