/**
 * The client's reply inbox: one wildcard subscription (`<inbox>.*`), one reply subject per
 * attempt or probe (`<inbox>.<seq>`), and the one place where what arrives is classified: the
 * broker's 503, an ack (which may name other reply subjects of this inbox), a reply, or something
 * unreadable. Each goes to the entry waiting on its subject.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';
import { decodeReplyOrAck } from '../protocol/codec.js';
import type { AckEnvelope, ReplyEnvelope } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import type { Logger } from '../logging/logger.js';
import type { InboxEntry } from './transport.js';

export class ReplyInbox {
  readonly #prefix: string;
  readonly #prefixLength: number;
  readonly #sub: Subscription;
  readonly #pending = new Map<number, InboxEntry>();
  readonly #limits: MsgpackLimits;
  readonly #log: Logger;
  #seq = 0;
  #late = 0;

  constructor(nc: NatsConnection, limits: MsgpackLimits, log: Logger) {
    // The connection's own inbox prefix is honoured, so broker permissions can confine replies.
    this.#prefix = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix) + '.';
    this.#prefixLength = this.#prefix.length;
    this.#limits = limits;
    this.#log = log;
    this.#sub = nc.subscribe(this.#prefix + '*', { callback: this.#onMessage });
  }

  /** Messages that found no entry: replies after their call ended (timed out, cancelled). */
  get lateReplies(): number {
    return this.#late;
  }

  /** Entries waiting now. */
  get size(): number {
    return this.#pending.size;
  }

  open(entry: InboxEntry): number {
    const seq = ++this.#seq;
    this.#pending.set(seq, entry);
    return seq;
  }

  replySubject(seq: number): string {
    return this.#prefix + seq;
  }

  close(seq: number): void {
    this.#pending.delete(seq);
  }

  /** The connection dropped: nothing can reach the entries waiting now. */
  connectionLost(): void {
    for (const entry of [...this.#pending.values()]) entry.lost();
  }

  /** A worker was lost: every entry hears it (an attempt it held, or one of its service without an ack). */
  workerLost(service: string, workerId: string, lostAt: number, verdict: boolean): void {
    for (const entry of [...this.#pending.values()]) entry.workerLost(service, workerId, lostAt, verdict);
  }

  /** Lets every entry look at its ack (see {@link InboxEntry.checkAck}). */
  checkAcks(now: number): void {
    for (const entry of this.#pending.values()) entry.checkAck(now);
  }

  unsubscribe(): void {
    this.#sub.unsubscribe();
  }

  readonly #onMessage = (err: Error | null, msg: Msg): void => {
    if (err !== null) {
      this.#log.warn({ err }, 'reply subscription error');
      return;
    }
    const entry = this.#pending.get(Number(msg.subject.slice(this.#prefixLength)));
    if (entry?.frame !== undefined) {
      entry.frame(msg.data, msg.headers?.code === 503);
      return;
    }
    if (msg.headers?.code === 503) {
      if (entry === undefined) this.#late++;
      else entry.noResponders();
      return;
    }
    let value: ReplyEnvelope | AckEnvelope;
    try {
      value = decodeReplyOrAck(msg.data, this.#limits);
    } catch (cause) {
      if (entry === undefined) this.#late++;
      else entry.unreadable(new RpcError('INTERNAL', `invalid reply: ${(cause as Error).message}`, { cause, maybeProcessed: true }));
      return;
    }
    if ((value as AckEnvelope).ack === true) {
      this.#onAck(value as AckEnvelope, entry);
      return;
    }
    if (entry === undefined) this.#late++;
    else entry.replied(value as ReplyEnvelope);
  };

  /** An ack names reply subjects of this inbox by their last token; the single form names its own. */
  #onAck(ack: AckEnvelope, entry: InboxEntry | undefined): void {
    const replies = ack.replies;
    if (replies === undefined || replies === null) {
      entry?.acked(ack.worker);
      return;
    }
    for (const token of replies) this.#pending.get(Number(token))?.acked(ack.worker);
  }
}
