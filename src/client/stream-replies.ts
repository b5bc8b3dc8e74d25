/**
 * The reply subjects of one stream, in the client's inbox. The broker lets a worker answer a
 * request for a while only (`allow_responses` `expires`, 1 minute in the shipped config; a message
 * delivered with the same reply subject does not renew it). So every {@link STREAM_REPLY_MOVE_MS}
 * an open stream moves to a fresh reply subject of its inbox: credit (of what was read, maybe
 * nothing) published with that subject as its NATS reply, whose delivery opens the worker's
 * permission there (docs/protocol.md, *Streams*). Frames may still arrive on the subject before,
 * so the last two stay open.
 */
import type { CallTransport, InboxEntry } from './transport.js';

export const STREAM_REPLY_MOVE_MS = 20_000;

/**
 * Opens a fresh reply subject for `entry` in the inbox and keeps its token in `moved`, which holds
 * the last two a stream or a long call moved to (the oldest is closed): returns the new token.
 */
export function openMovedReply(t: CallTransport, entry: InboxEntry, moved: string[]): string {
  const token = t.open(entry);
  moved.push(token);
  if (moved.length > 2) t.close(moved.shift()!);
  return token;
}

export class StreamReplies {
  readonly #t: CallTransport;
  readonly #entry: InboxEntry;
  /** Sends credit with the fresh subject of `token` as its NATS reply. */
  readonly #moveTo: (token: string) => void;
  /** The random last token of the request's own reply subject. */
  #token = '';
  /** The token the stream was last moved to, and the one before it. */
  readonly #moved: string[] = [];
  #timer: unknown = undefined;

  constructor(t: CallTransport, entry: InboxEntry, moveTo: (token: string) => void) {
    this.#t = t;
    this.#entry = entry;
    this.#moveTo = moveTo;
  }

  /** The token of the request's own reply subject ('' before {@link open}). */
  get token(): string {
    return this.#token;
  }

  /** Opens the request's own reply subject; returns its token. */
  open(): string {
    return (this.#token = this.#t.open(this.#entry));
  }

  /** The worker's first frame arrived: the stream moves every STREAM_REPLY_MOVE_MS from now on. */
  startMoving(): void {
    this.#timer = this.#t.clock.setTimer(this.#move, STREAM_REPLY_MOVE_MS);
  }

  /** Closes every reply subject of the stream and stops moving. */
  close(): void {
    const t = this.#t;
    t.close(this.#token);
    for (const token of this.#moved) t.close(token);
    t.clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  readonly #move = (): void => {
    const t = this.#t;
    this.#moveTo(openMovedReply(t, this.#entry, this.#moved));
    this.#timer = t.clock.setTimer(this.#move, STREAM_REPLY_MOVE_MS);
  };
}
