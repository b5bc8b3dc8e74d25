/**
 * The house layering, checked on the source: src/protocol (the wire contract) imports nothing of
 * ours but itself, and no module of src/ reaches itself again through its imports (static,
 * type-only and dynamic imports alike: a cycle through types still ties the files together).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { importedSpecifiers } from './helpers/module-syntax.js';
import { ROOT } from './helpers/processes.js';

const SRC = join(ROOT, 'src');

/** Every module of src/ with the modules of src/ it imports (relative specifiers, `.js` -> `.ts`). */
function importGraph(): Map<string, string[]> {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const path = join(SRC, f);
    const specs = importedSpecifiers(path);
    const deps = specs.filter((s) => s.startsWith('.')).map((s) => relative(SRC, resolve(dirname(path), s.replace(/\.js$/, '.ts'))));
    graph.set(relative(SRC, path), deps);
  }
  return graph;
}

test('src/protocol imports nothing of ours outside src/protocol', () => {
  const graph = importGraph();
  const outside: string[] = [];
  for (const [file, deps] of graph) {
    if (!file.startsWith('protocol/')) continue;
    for (const d of deps) if (!d.startsWith('protocol/')) outside.push(`${file} -> ${d}`);
  }
  assert.ok([...graph.keys()].some((f) => f.startsWith('protocol/')), 'the protocol modules were found');
  assert.deepEqual(outside, []);
});

test('no module of src/ imports itself again through other modules', () => {
  const graph = importGraph();
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const d of graph.get(file) ?? []) {
      if (!graph.has(d)) continue;
      if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].join(' -> '));
      else if (state.get(d) === undefined) visit(d);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (state.get(file) === undefined) visit(file);
  assert.ok(graph.size > 100, `the modules were found (${graph.size})`);
  assert.deepEqual(cycles, []);
});
