/**
 * A worker's lifecycle: serving, draining, drained (a resume serves again), stopped. It owns the
 * state, the drain and stop in progress (each runs once; calling again returns the same promise),
 * whether a drain ran out of time (a request that still arrives is then refused) and the hooks run
 * on a change of state and at stop. What the worker holds is released through `release`.
 */
import { RpcError } from '../protocol/errors.js';
import type { NatsConnection } from 'nats';
import type { Logger } from '../logging/logger.js';
import type { InFlightDrain } from './in-flight-drain.js';
import type { QueueGroupMembership } from './queue-group.js';
import type { WorkerStats } from './stats.js';

export type WorkerState = 'serving' | 'draining' | 'drained' | 'stopped';

/** Frees what the worker holds once it has drained and is stopped; runs the stop hooks (the final heartbeat) on the way. */
export type ReleaseWorker = (runStopHooks: () => Promise<void>) => Promise<void>;

export class WorkerLifecycle {
  readonly #group: QueueGroupMembership;
  readonly #inFlight: InFlightDrain;
  readonly #stats: WorkerStats;
  readonly #nc: NatsConnection;
  readonly #log: Logger;
  readonly #drainTimeoutMs: number;
  readonly #release: ReleaseWorker;
  #state: WorkerState = 'serving';
  #drainExpired = false;
  #draining: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  readonly #stopHooks: ((reason: string) => Promise<void>)[] = [];
  readonly #stateHooks: ((state: WorkerState) => void)[] = [];

  constructor(group: QueueGroupMembership, inFlight: InFlightDrain, stats: WorkerStats, nc: NatsConnection, log: Logger, drainTimeoutMs: number, release: ReleaseWorker) {
    this.#group = group;
    this.#inFlight = inFlight;
    this.#stats = stats;
    this.#nc = nc;
    this.#log = log;
    this.#drainTimeoutMs = drainTimeoutMs;
    this.#release = release;
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** A drain ran out of time: from then on a request that still arrives is refused. */
  get drainExpired(): boolean {
    return this.#drainExpired;
  }

  /** May join the queue group on its own (load-aware routing): serving and not stopping. */
  get mayJoin(): boolean {
    return this.#state === 'serving' && this.#stopping === null;
  }

  drain(): Promise<void> {
    if (this.#state === 'stopped') return Promise.resolve();
    this.#draining ??= this.#drain();
    return this.#draining;
  }

  async resume(): Promise<void> {
    if (this.#state === 'stopped' || this.#stopping !== null) throw new RpcError('UNAVAILABLE', 'worker is stopped');
    if (this.#draining !== null) await this.#draining;
    if (this.#state !== 'drained') return;
    this.#draining = null;
    this.#drainExpired = false;
    // A resumed worker starts with a clean record: its failures before the drain were judged
    // (reset before the state changes, so the heartbeat that says `serving` says it too).
    this.#stats.resetFaults();
    this.#setState('serving');
    this.#group.join();
    await this.#nc.flush();
    this.#log.info('worker resumed');
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  onStop(hook: (reason: string) => Promise<void>): void {
    this.#stopHooks.push(hook);
  }

  onStateChange(hook: (state: WorkerState) => void): void {
    this.#stateHooks.push(hook);
  }

  #setState(state: WorkerState): void {
    this.#state = state;
    for (const hook of this.#stateHooks) hook(state);
  }

  async #stop(): Promise<void> {
    await this.drain();
    this.#setState('stopped');
    const log = this.#log;
    await this.#release(async () => {
      for (const hook of this.#stopHooks) await hook('stopped').catch((err: unknown) => log.warn({ err }, 'stop hook failed'));
    });
  }

  async #drain(): Promise<void> {
    const inFlight = this.#inFlight;
    const log = this.#log;
    this.#setState('draining');
    log.info({ inFlight: inFlight.count }, 'worker draining');
    // One deadline for the whole drain: leaving the group and finishing the calls in flight.
    const deadline = performance.now() + this.#drainTimeoutMs;
    await this.#group.leaveConfirmed(this.#drainTimeoutMs);
    if (!(await inFlight.wait(deadline))) {
      this.#drainExpired = true; // from now on a request that still arrives is refused
      await inFlight.abort();
    }
    this.#setState('drained');
    log.info('worker drained');
  }
}
