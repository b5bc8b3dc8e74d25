/**
 * One plain call waiting for its reply. A plain class with fields, so the hot path allocates one
 * object per call and no closures beyond the promise's own. It keeps the payload so that a
 * retryable refusal can be handed to attempts.ts and sent again.
 */
import type { Headers } from '../protocol/envelope.js';
import type { RpcError } from '../protocol/errors.js';
import type { Expiring } from '../timing/deadline-queue.js';
import type { ResolvedTarget } from './transport.js';

export class PendingCall implements Expiring {
  /** @internal owned by the client's deadline queue */
  deadlineBucket = 0;
  /** @internal owned by the client's deadline queue */
  deadlinePrev: Expiring | null = null;
  /** @internal owned by the client's deadline queue */
  deadlineNext: Expiring | null = null;
  resolve!: (value: unknown) => void;
  reject!: (err: RpcError) => void;
  readonly promise: Promise<unknown>;
  /** `performance.now()` when the call was made. */
  readonly startedAt = performance.now();

  constructor(
    readonly seq: number,
    readonly id: string,
    readonly target: ResolvedTarget,
    readonly timeoutMs: number,
    readonly payload: unknown,
    readonly headers: Headers | undefined,
  ) {
    this.promise = new Promise<unknown>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** `service.method`, for messages. */
  get name(): string {
    return `${this.target.service}.${this.target.method}`;
  }
}
