/**
 * The benchmark harness starts and stops cleanly: `bench/run.ts --smoke` runs one tiny A/B trial
 * (its own nats-server, a client process, 2 worker processes), exits 0
 * and writes a results file with ratios. Nothing here measures speed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dieWithThisProcess } from '../src/broker/child-watchdog.js';
import { ROOT } from './helpers/processes.js';

test('the benchmark harness runs in --smoke mode, exits 0 and writes ratios', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'natsrpc-bench-')), 'smoke.json');
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  dieWithThisProcess(child);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  assert.equal(code, 0, output);
  const results = JSON.parse(readFileSync(out, 'utf8')) as { results: Array<{ id: number; rows: Array<Record<string, string>> }>; machine: { cores: number } };
  const throughput = results.results.find((r) => r.id === 1);
  assert.ok(throughput && throughput.rows.length > 0, 'scenario 1 has rows');
  for (const row of throughput.rows) {
    assert.match(row['req/s ratio']!, /^\d+\.\d\d$/, 'a throughput ratio to the baseline');
    assert.match(row['p50 ratio']!, /^\d+\.\d\d$/, 'a latency ratio to the baseline');
  }
  assert.ok(results.machine.cores > 0);
  assert.match(output, /\| in flight/, 'the table is printed');
});
