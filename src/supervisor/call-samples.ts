/**
 * A worker's call figures over the rate window, from the cumulative counters of its heartbeats:
 * one sample per heartbeat, the oldest kept being the window's base, bounded in number. Calls are
 * what the worker took (refusals are not calls); faults are its own failures and its overruns.
 * Pure: the registry owns the samples and passes the time.
 */
import type { WorkerHeartbeat } from '../protocol/heartbeat.js';
import { isRefusal, isWorkerFault } from '../protocol/errors.js';
import type { CallFigures } from './policy.js';
import type { Sample } from './worker-record.js';

/** Samples kept per worker for the rate window, at most. */
const MAX_SAMPLES = 256;

/** The sample of heartbeat `hb` received at `now`. */
export function sampleOf(hb: WorkerHeartbeat, now: number): Sample {
  let calls = hb.ok;
  let faults = hb.overruns;
  for (const code in hb.failed) {
    const n = hb.failed[code]!;
    if (isRefusal(code)) continue;
    calls += n;
    if (isWorkerFault(code)) faults += n;
  }
  return { at: now, calls, faults, received: hb.received };
}

/**
 * Appends `sample` to `samples`, keeping one at or before the window's start (`rateWindowMs`
 * before it) as the window's base and at most MAX_SAMPLES; returns the calls per second received
 * since the sample before it.
 */
export function addSample(samples: Sample[], sample: Sample, rateWindowMs: number): number {
  const prev = samples[samples.length - 1]!;
  const dt = (sample.at - prev.at) / 1_000;
  const callsPerSec = dt > 0 ? Math.max(0, sample.received - prev.received) / dt : 0;
  samples.push(sample);
  const horizon = sample.at - rateWindowMs;
  while (samples.length > 2 && (samples[1]!.at <= horizon || samples.length > MAX_SAMPLES)) samples.shift();
  return callsPerSec;
}

/** Calls and faults between the first and the last of `samples`. */
export function windowFigures(samples: readonly Sample[]): CallFigures {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first === undefined || last === undefined) return { calls: 0, faults: 0 };
  return { calls: Math.max(0, last.calls - first.calls), faults: Math.max(0, last.faults - first.faults) };
}
