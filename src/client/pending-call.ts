/**
 * One call waiting for its reply. A plain class with fields, so the hot path allocates one object
 * per call and no closures beyond the promise's own.
 */
import type { RpcError } from '../protocol/errors.js';
import type { Expiring } from '../timing/deadline-queue.js';

export class PendingCall implements Expiring {
  deadlineBucket = 0;
  resolve!: (value: unknown) => void;
  reject!: (err: RpcError) => void;
  /** Set when the caller passed an AbortSignal; removed when the call settles. */
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  readonly promise: Promise<unknown>;

  constructor(
    readonly seq: number,
    readonly id: string,
    readonly target: string,
    readonly timeoutMs: number,
  ) {
    this.promise = new Promise<unknown>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Detaches the abort listener; call once the call has settled. */
  release(): void {
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    this.onAbort = undefined;
    this.signal = undefined;
  }
}
