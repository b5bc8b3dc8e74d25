/**
 * The calls a worker holds that their callers may cancel, by request id. Only requests marked
 * `cancellable` are indexed, so plain calls pay nothing; a cancel for a request not indexed (a
 * plain call's cancel at its deadline) is looked for among the calls running, which costs a walk
 * over at most the concurrency limit, only when such a cancel comes. Cancels arrive on
 * `<prefix>._cancel.<service>`, which every worker of the service hears; a cancel aborts a call
 * only when it names the random last token of that call's reply subject, which only the caller
 * and this worker know (anyone may know a request id). See docs/protocol.md, *Cancellation*.
 */
import type { NatsConnection, Subscription } from 'nats';
import { decodeChecked } from '../protocol/codec.js';
import { asCancel } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import { isLastToken } from '../protocol/subjects.js';
import { CallContext, REPLY, TRACKED } from './context.js';

export class CancelIndex {
  readonly #byId = new Map<string, Set<CallContext>>();
  readonly #limits: MsgpackLimits;
  readonly #findUnindexed: (id: string, replies: readonly string[]) => CallContext | undefined;

  /** `findUnindexed` looks among the running calls for one of `id` whose reply token is in `replies`. */
  constructor(limits: MsgpackLimits, findUnindexed: (id: string, replies: readonly string[]) => CallContext | undefined) {
    this.#limits = limits;
    this.#findUnindexed = findUnindexed;
  }

  track(ctx: CallContext): void {
    ctx[TRACKED] = true;
    let set = this.#byId.get(ctx.requestId);
    if (set === undefined) {
      set = new Set();
      this.#byId.set(ctx.requestId, set);
    }
    set.add(ctx);
  }

  untrack(ctx: CallContext): void {
    const set = this.#byId.get(ctx.requestId);
    if (set !== undefined && set.delete(ctx) && set.size === 0) this.#byId.delete(ctx.requestId);
  }

  /** Subscribes to the service's cancel subject; the worker unsubscribes at stop. */
  listen(nc: NatsConnection, subject: string): Subscription {
    return nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err === null) this.onMessage(msg.data);
      },
    });
  }

  /** Handles a cancel message: aborts the matching handlers' signals. Hostile bytes are ignored. */
  onMessage(data: Uint8Array): void {
    let cancel;
    try {
      cancel = asCancel(decodeChecked(data, this.#limits));
    } catch {
      return;
    }
    if (cancel === null) return;
    const replies = cancel.replies;
    const deadline = cancel.deadline === true;
    const set = this.#byId.get(cancel.id);
    if (set === undefined) {
      const ctx = this.#findUnindexed(cancel.id, replies);
      if (ctx !== undefined) this.#abort(ctx, deadline);
      return;
    }
    // A cancel that names a running request without one of its reply tokens is ignored.
    for (const ctx of set) if (namesReply(replies, ctx[REPLY])) this.#abort(ctx, deadline);
  }

  /** A caller's deadline aborts like the worker's own (TIMEOUT, and a reply); any other cancel is CANCELLED, unanswered. */
  #abort(ctx: CallContext, deadline: boolean): void {
    if (ctx.aborted) return;
    const reason = deadline ? new RpcError('TIMEOUT', `the caller's deadline of ${ctx.method} passed`) : new RpcError('CANCELLED', 'the caller cancelled the call');
    CallContext.abort(ctx, reason);
  }
}

/** True when one of `replies` is the last token of the reply subject `reply`. */
export function namesReply(replies: readonly string[], reply: string): boolean {
  for (const token of replies) if (isLastToken(reply, token)) return true;
  return false;
}
