/**
 * Summarises `.cpuprofile` files (from `npm run bench -- --profile`): self time per function and
 * per file, busiest first.
 *
 *   node --import tsx bench/profile-summary.ts bench/results/profiles/CPU.*.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
const top = Number(values.top);
for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const n of profile.nodes) {
    const t = selfUs.get(n.id) ?? 0;
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/');
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + t);
    const key = url.replace(/^(node_modules\/[^/]+).*/, '$1') || n.callFrame.functionName;
    byFile.set(key, (byFile.get(key) ?? 0) + t);
  }
  const pct = (t: number) => ((t / total) * 100).toFixed(1).padStart(5) + '%';
  const idle = byFn.get('(idle) :0') ?? 0;
  console.log(`\n== ${file}: ${(total / 1e6).toFixed(2)} s sampled, ${pct(total - idle)} busy`);
  console.log('-- by file');
  for (const [k, t] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${pct(t)}  ${k}`);
  console.log('-- by function (self)');
  for (const [k, t] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
}
