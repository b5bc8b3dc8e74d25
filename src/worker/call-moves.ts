/**
 * Long plain calls move to a fresh reply subject. The broker lets a worker answer a request for
 * `allow_responses`' `expires` only (1 minute in the shipped config), so a handler that answers
 * later had its reply refused. A caller that still waits on an acknowledged call publishes, every
 * 20 s, a credit message naming the call (its id and the random last token of its reply subject)
 * on the worker's credit subject, with a fresh reply subject of its inbox as NATS reply: the
 * delivery opens the worker's permission there, and the reply goes there (docs/protocol.md,
 * *Long calls*). Streams move the same way (streams.ts).
 */
import type { NatsConnection, Subscription } from 'nats';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import { readCredit, type CreditEnvelope } from '../protocol/stream.js';
import { sameInbox } from '../protocol/subjects.js';
import { REPLY, REPLY_TO, type CallContext } from './context.js';

export class CallMoves {
  /** The running call with request id `id` whose reply subject ends in `token`. */
  readonly #find: (id: string, token: string) => CallContext | undefined;
  #ignored = 0;

  constructor(find: (id: string, token: string) => CallContext | undefined) {
    this.#find = find;
  }

  /** Credit messages that moved nothing (unreadable, no running call, another inbox). */
  get ignored(): number {
    return this.#ignored;
  }

  /** Listens on the worker's credit subject itself: a worker with no streaming method. */
  listen(nc: NatsConnection, subject: string, limits: MsgpackLimits): Subscription {
    return nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err !== null) return;
        const credit = readCredit(msg.data, limits);
        if (credit === null || !this.move(credit, msg.reply)) this.#ignored++;
      },
    });
  }

  /**
   * Moves the running call that `credit` names to `moveTo`, a subject of the same inbox as its
   * request's reply subject (only its caller knows the token that names it): true when it did.
   */
  readonly move = (credit: CreditEnvelope, moveTo: string | undefined): boolean => {
    if (moveTo === undefined || moveTo === '') return false;
    const ctx = this.#find(credit.id, credit.reply);
    if (ctx === undefined || !sameInbox(moveTo, ctx[REPLY])) return false;
    ctx[REPLY_TO] = moveTo;
    return true;
  };
}
