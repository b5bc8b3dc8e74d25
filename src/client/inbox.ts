/**
 * The client's reply inbox: one wildcard subscription (`<inbox>.*`), one reply subject per
 * attempt or probe (`<inbox>.<token>`, with an unguessable random token, see reply-token.ts), and
 * the one place where what arrives is classified: the broker's 503, an ack (which may name other
 * reply subjects of this inbox), a reply, or something unreadable. Each goes to the entry waiting
 * on its subject. A message is read only when its subject's token is that of an entry waiting now:
 * anything else (a late reply, or a forged or reflected message on a subject nobody waits on) is
 * dropped unread and counted, and so is a message whose NATS header block is over the limits.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';
import { decodeInboxMessage } from '../protocol/codec.js';
import { readBodyChunk, type BodyPull } from '../protocol/body.js';
import type { AckEnvelope, ReplyEnvelope } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import { checkHeaderBlock, headerBlockLength, headerStatus, NO_RESPONDERS_STATUS } from '../protocol/nats-headers.js';
import type { Logger } from '../logging/logger.js';
import { replyToken } from './reply-token.js';
import type { InboxEntry } from './transport.js';

export class ReplyInbox {
  readonly #prefix: string;
  readonly #prefixLength: number;
  readonly #sub: Subscription;
  readonly #pending = new Map<string, InboxEntry>();
  readonly #limits: MsgpackLimits;
  readonly #log: Logger;
  #late = 0;
  #badHeaders = 0;

  constructor(nc: NatsConnection, limits: MsgpackLimits, log: Logger) {
    // The connection's own inbox prefix is honoured, so broker permissions can confine replies.
    this.#prefix = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix) + '.';
    this.#prefixLength = this.#prefix.length;
    this.#limits = limits;
    this.#log = log;
    this.#sub = nc.subscribe(this.#prefix + '*', { callback: this.#onMessage });
  }

  /**
   * Messages on a subject nobody waits on now: replies after their call ended (timed out,
   * cancelled), or messages sent to a reply subject that was never handed out. Dropped unread.
   */
  get lateReplies(): number {
    return this.#late;
  }

  /** Messages dropped unread because their NATS header block was over the limits (nats-headers.ts). */
  get oversizedHeaders(): number {
    return this.#badHeaders;
  }

  /** Entries waiting now. */
  get size(): number {
    return this.#pending.size;
  }

  /** Registers `entry` under a fresh random token, which it is answered on. */
  open(entry: InboxEntry): string {
    const token = replyToken();
    this.#pending.set(token, entry);
    return token;
  }

  replySubject(token: string): string {
    return this.#prefix + token;
  }

  close(token: string): void {
    this.#pending.delete(token);
  }

  /** The connection dropped: nothing can reach the entries waiting now. */
  connectionLost(): void {
    for (const entry of [...this.#pending.values()]) entry.lost();
  }

  /** A worker was lost: every entry hears it (an attempt it held, or one of its service without an ack). */
  workerLost(service: string, workerId: string, lostAt: number, verdict: boolean): void {
    for (const entry of [...this.#pending.values()]) entry.workerLost(service, workerId, lostAt, verdict);
  }

  /** A census of `service` ended: entries it proves lost end (see {@link InboxEntry.census}). */
  census(service: string, before: number): void {
    for (const entry of [...this.#pending.values()]) entry.census?.(service, before);
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
    const entry = this.#pending.get(msg.subject.slice(this.#prefixLength));
    if (entry === undefined) {
      this.#late++;
      return;
    }
    // `msg.headers` is never read: the nats parser of header blocks is quadratic in their lines.
    let noResponders = false;
    let headers = false;
    if (headerBlockLength(msg) > 0) {
      if (checkHeaderBlock(msg) !== null) {
        this.#badHeaders++;
        return;
      }
      noResponders = headerStatus(msg) === NO_RESPONDERS_STATUS;
      headers = true;
    }
    if (entry.frame !== undefined) {
      entry.frame(msg.data, noResponders, headers ? msg : undefined);
      return;
    }
    if (noResponders) {
      entry.noResponders();
      return;
    }
    if (headers) {
      // A chunk of a reply body: its metadata in a NATS header, its bytes the payload.
      const chunk = readBodyChunk(msg);
      if (chunk !== null) return entry.bodyChunk?.(chunk);
    }
    let value: ReplyEnvelope | AckEnvelope | BodyPull;
    try {
      value = decodeInboxMessage(msg.data, this.#limits);
    } catch (cause) {
      entry.unreadable(new RpcError('INTERNAL', `invalid reply: ${(cause as Error).message}`, { cause, maybeProcessed: true }));
      return;
    }
    if ((value as AckEnvelope).ack === true) this.#onAck(value as AckEnvelope, entry);
    else if ((value as ReplyEnvelope).ok === undefined) entry.bodyPull?.(value as BodyPull); // the worker pulls the request body
    else entry.replied(value as ReplyEnvelope);
  };

  /**
   * An ack names reply subjects of this inbox by their tokens, each looked up (an unknown token is
   * ignored); the single form names the subject it arrived on.
   */
  #onAck(ack: AckEnvelope, entry: InboxEntry): void {
    const replies = ack.replies;
    if (replies === undefined || replies === null) {
      entry.acked(ack.worker);
      return;
    }
    for (const token of replies) this.#pending.get(token)?.acked(ack.worker);
  }
}
