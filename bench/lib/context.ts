/**
 * What every scenario gets: the broker URL, the chosen profile (full, quick or smoke), the client
 * process, a way to start worker processes, and the progress display.
 */
import type { RunResult, RunSpec } from '../proc/client.js';
import type { ServiceSpec } from '../proc/worker.js';
import { BenchChild, stopAll } from './ipc.js';
import type { Progress } from './progress.js';

export interface Profile {
  name: 'full' | 'quick' | 'smoke';
  /** Scenario ids this profile runs. */
  scenarios: number[];
  /** A/B rounds per measured cell (A B A B ... ). */
  rounds: number;
  warmupMs: number;
  durationMs: number;
  /** Scenario 1 cells: [calls in flight, payload bytes]. */
  throughputCells: Array<[number, number]>;
  scalingWorkers: number[];
  /** Measured time of a scenario 2 trial (its handler is slow, its trials many). */
  scalingDurationMs: number;
  failover: { beforeMs: number; afterMs: number; rounds: number };
  supervisor: { workers: number; runMs: number };
  /** Scenario 6 cells: [calls in flight, payload bytes]. */
  decompositionCells: Array<[number, number]>;
}

export const PROFILES: Record<Profile['name'], Profile> = {
  full: {
    name: 'full',
    scenarios: [1, 2, 3, 4, 5, 6],
    rounds: 2,
    warmupMs: 1_000,
    durationMs: 3_000,
    throughputCells: [1, 64, 256].flatMap((n) => [100, 10_240, 512_000].map((b) => [n, b] as [number, number])),
    scalingWorkers: [1, 2, 4, 8],
    scalingDurationMs: 3_000,
    failover: { beforeMs: 2_000, afterMs: 4_000, rounds: 2 },
    supervisor: { workers: 10_000, runMs: 15_000 },
    decompositionCells: [[256, 100], [64, 10_240]],
  },
  quick: {
    name: 'quick',
    scenarios: [1, 2, 3, 4, 5, 6],
    rounds: 1,
    warmupMs: 250,
    durationMs: 1_000,
    // 256 calls of 500 KB take seconds just to finish: the full run measures that cell
    throughputCells: [1, 64, 256].flatMap((n) => [100, 10_240, 512_000].map((b) => [n, b] as [number, number])).filter(([n, b]) => !(n === 256 && b === 512_000)),
    scalingWorkers: [1, 2, 4, 8],
    scalingDurationMs: 700,
    // afterMs: past the 2 s deadline of the calls stuck at the killed worker, and the recovery
    failover: { beforeMs: 1_000, afterMs: 3_000, rounds: 1 },
    supervisor: { workers: 10_000, runMs: 2_000 },
    decompositionCells: [[256, 100]],
  },
  smoke: {
    name: 'smoke',
    scenarios: [1],
    rounds: 1,
    warmupMs: 100,
    durationMs: 300,
    throughputCells: [[1, 100]],
    scalingWorkers: [],
    scalingDurationMs: 0,
    failover: { beforeMs: 0, afterMs: 0, rounds: 0 },
    supervisor: { workers: 0, runMs: 0 },
    decompositionCells: [],
  },
};

export interface Ctx {
  url: string;
  profile: Profile;
  progress: Progress;
  client: BenchChild;
  /** Starts `count` worker processes; `services(i)` says what process i hosts. */
  startWorkers(count: number, services: (i: number) => ServiceSpec[]): Promise<BenchChild[]>;
  run(spec: RunSpec): Promise<RunResult>;
}

export function makeCtx(url: string, profile: Profile, progress: Progress, client: BenchChild, execArgv: string[] = []): Ctx {
  return {
    url,
    profile,
    progress,
    client,
    async startWorkers(count, services) {
      const children = Array.from({ length: count }, (_, i) => new BenchChild('worker.ts', { url, services: services(i) }, execArgv));
      try {
        await Promise.all(children.map((c) => c.ready));
      } catch (err) {
        await stopAll(children);
        throw err;
      }
      return children;
    },
    run: (spec) => client.request<RunResult>('run', spec, spec.warmupMs + spec.durationMs + spec.timeoutMs + 60_000),
  };
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const mean = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
