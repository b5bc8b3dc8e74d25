/**
 * A plain call whose caller vanished (its process killed, its connection cut) without a cancel
 * would run until its handler returns or its budget ends, holding a slot for up to the worker's
 * `maxBudgetMs`. Every {@link CALL_CALLER_PROBE_MS} the worker probes the caller of each call
 * that has run that long and asked for an ack (so its caller reads acks): it sends the call's ack
 * again, as a request to the call's reply subject whose answer subject is
 * `<prefix>._credit.<service>.<random token>` (which a service's identity may subscribe to). A caller
 * takes a repeated ack as nothing new; the broker's 503 says nobody reads the reply subject any
 * more, and the call's signal is aborted with CANCELLED (docs/protocol.md, *Cancellation*).
 */
import type { NatsConnection } from 'nats';
import { readerGone } from '../connection/request.js';
import { encodeAck } from '../protocol/codec.js';
import { RpcError } from '../protocol/errors.js';
import { creditSubject } from '../protocol/subjects.js';
import { ASKS_ACK, CallContext, REPLY, REPLY_TO, STARTED_AT } from './context.js';

/** A plain call that has run this long has its caller probed, again this long after each probe ended; a probe waits 1 s for the 503. */
export const CALL_CALLER_PROBE_MS = 5_000;
const PROBE_ANSWER_WAIT_MS = 1_000;

export class CallCallerProbes {
  readonly #nc: NatsConnection;
  readonly #workerId: string;
  /** `<prefix>._credit.<service>.`: the probes' answer subjects. */
  readonly #answers: string;
  readonly #calls: () => CallContext[];
  /** When each call was last probed (`performance.now()`), or is being probed now (Infinity). */
  readonly #probedAt = new WeakMap<CallContext, number>();
  readonly #timer: NodeJS.Timeout;
  #gone = 0;

  constructor(nc: NatsConnection, prefix: string, service: string, workerId: string, calls: () => CallContext[]) {
    this.#nc = nc;
    this.#workerId = workerId;
    this.#answers = creditSubject(prefix, service, '');
    this.#calls = calls;
    this.#timer = setInterval(this.#sweep, CALL_CALLER_PROBE_MS / 5).unref();
  }

  /** Calls aborted because their caller was gone. */
  get gone(): number {
    return this.#gone;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  readonly #sweep = (): void => {
    const due = performance.now() - CALL_CALLER_PROBE_MS;
    for (const ctx of this.#calls()) {
      if (!ctx[ASKS_ACK] || ctx.aborted || ctx[STARTED_AT] > due || (this.#probedAt.get(ctx) ?? 0) > due) continue;
      this.#probedAt.set(ctx, Infinity);
      void this.#callerGone(ctx).then((gone) => {
        this.#probedAt.set(ctx, performance.now());
        if (!gone || ctx.aborted) return;
        this.#gone++;
        CallContext.abort(ctx, new RpcError('CANCELLED', 'the caller of the call is gone (its reply subject has no subscriber)'));
      });
    }
  };

  /** The call's ack, sent again as a request: true on the broker's 503. */
  #callerGone(ctx: CallContext): Promise<boolean> {
    if (this.#nc.isClosed()) return Promise.resolve(false);
    const request = ctx[REPLY];
    const ack = encodeAck(this.#workerId, [request.slice(request.lastIndexOf('.') + 1)]);
    return readerGone(this.#nc, ctx[REPLY_TO] || request, ack, PROBE_ANSWER_WAIT_MS, this.#answers);
  }
}
