/**
 * The end of a drain: the calls still in flight are waited for until the drain's deadline, then
 * their signals are aborted with DRAINING and they get a short grace to end.
 */
import { RpcError } from '../protocol/errors.js';
import type { Logger } from '../logging/logger.js';
import type { ActiveCalls } from './active-calls.js';
import { CallContext } from './context.js';

/** Grace after aborting the handlers still running when the drain timeout passes. */
export const DRAIN_ABORT_GRACE_MS = 1_000;

export class InFlightDrain {
  readonly #active: ActiveCalls<CallContext>;
  readonly #log: Logger;
  #idle: (() => void) | null = null;

  constructor(active: ActiveCalls<CallContext>, log: Logger) {
    this.#active = active;
    this.#log = log;
  }

  /** Calls in flight now. */
  get count(): number {
    return this.#active.size;
  }

  /** The worker calls this when its last call in flight has ended. */
  idle(): void {
    this.#idle?.();
  }

  /** Waits for the calls in flight until `deadline` (a `performance.now()` time): true when they all ended. */
  wait(deadline: number): Promise<boolean> {
    return this.#waitIdle(Math.max(0, deadline - performance.now()));
  }

  /** Aborts the signals of the calls still running, then gives them {@link DRAIN_ABORT_GRACE_MS} to end. */
  async abort(): Promise<void> {
    this.#log.warn({ inFlight: this.#active.size }, 'drain timeout: aborting handlers still running');
    const reason = new RpcError('DRAINING', 'worker is shutting down');
    for (const ctx of this.#active.toArray()) CallContext.abort(ctx, reason);
    await this.#waitIdle(DRAIN_ABORT_GRACE_MS);
  }

  #waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.#active.size === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#idle = null;
        resolve(false);
      }, timeoutMs);
      this.#idle = () => {
        clearTimeout(timer);
        this.#idle = null;
        resolve(true);
      };
    });
  }
}
