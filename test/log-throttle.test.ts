/**
 * LogThrottle: one line per period for a flood of one kind, carrying how many were suppressed
 * since the line before (the supervisor's malformed inputs, the member check's refuted heartbeats,
 * a worker's refused control commands, a client's ignored deadline policies).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogThrottle } from '../src/logging/log-throttle.js';

test('the first occurrence is logged, the rest of its period counted, and the next line carries the count', () => {
  const t = new LogThrottle(1_000);
  assert.equal(t.take(0), 0, 'the first one, even at time 0');
  assert.equal(t.take(1), null);
  assert.equal(t.take(999), null);
  assert.equal(t.take(1_000), 2, 'a period later: logged, with the two suppressed');
  assert.equal(t.take(1_500), null);
  assert.equal(t.take(5_000), 1);
  assert.equal(t.take(6_000), 0, 'the count starts again after each line');
});
