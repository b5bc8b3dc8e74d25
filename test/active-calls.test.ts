/**
 * The worker's list of running calls: a count for the concurrency limit and the drain, and the
 * calls themselves for the drain's abort.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIVE, ACTIVE_NEXT, ACTIVE_PREV, ActiveCalls, type ActiveLink } from '../src/worker/active-calls.js';

const call = (name: string): ActiveLink & { name: string } => ({ name, [ACTIVE_PREV]: null, [ACTIVE_NEXT]: null, [ACTIVE]: false });

test('ActiveCalls: add and delete in any order keep the count and the members right', () => {
  const list = new ActiveCalls<ReturnType<typeof call>>();
  const [a, b, c] = [call('a'), call('b'), call('c')];
  list.add(a);
  list.add(b);
  list.add(c);
  list.add(b); // already on it: no change
  assert.equal(list.size, 3);
  assert.ok(list.has(a) && list.has(b) && list.has(c));
  assert.deepEqual(list.toArray().map((x) => x.name).sort(), ['a', 'b', 'c']);
  assert.equal(list.delete(b), true, 'from the middle');
  assert.equal(list.delete(b), false, 'not twice');
  assert.deepEqual(list.toArray().map((x) => x.name).sort(), ['a', 'c']);
  assert.equal(list.delete(c), true, 'the head');
  assert.equal(list.delete(a), true, 'the last one');
  assert.equal(list.size, 0);
  assert.deepEqual(list.toArray(), []);
  // Removing calls while going through a copy is safe, as the drain does.
  const many = Array.from({ length: 100 }, (_, i) => call(String(i)));
  for (const x of many) list.add(x);
  for (const x of list.toArray()) list.delete(x);
  assert.equal(list.size, 0);
  assert.ok(many.every((x) => !list.has(x) && !x[ACTIVE] && x[ACTIVE_NEXT] === null && x[ACTIVE_PREV] === null));
});
