/**
 * Acks in batches. Requests with `ack: true` that a worker reads at once (one socket read delivers
 * them in one synchronous run of subscription callbacks) are acknowledged together: one message
 * per caller, on the reply subject of one of its requests, naming the last tokens of the reply
 * subjects taken. Their handlers start after that, in arrival order, once the `nats` client has
 * queued the acks' write (it writes in a microtask queued by the publish), so a handler that kills
 * its process cannot prevent the ack. Under load one ack covers many calls; that is what makes
 * attribution almost free (docs/protocol.md, *Acks and lost workers*).
 *
 * Acks with nothing to start (requests with `lateAck` whose handler did not finish at once, and
 * requests held in a backlog) go one turn of the event loop later (`setImmediate`), leaving out
 * the requests answered by then. An async handler returns a promise, so right after its start it
 * always looks "still running": acking it there (in the microtask) sent an ack for every call of a
 * handler that finishes at once (20 acked of 20 requests read at once, where a synchronous handler
 * cost 1, its presence ack). A probe's answer still follows every pending ack (`flush`).
 */
import { encodeAck } from '../protocol/codec.js';
import { MAX_ACK_REPLIES } from '../protocol/envelope.js';

/** Something that starts once its ack is on its way. */
export interface AckedStart {
  start(): void;
}

interface CallerAcks {
  /** Where the ack goes: the reply subject of the caller's first request in the batch. */
  subject: string;
  replies: string[];
}

/** A worker acks one `lateAck` request of each caller at least this often, finished or not. */
export const PRESENCE_INTERVAL_MS = 100;
/** Callers whose last presence ack is remembered; beyond it the memory starts over. */
const MAX_CALLERS = 4_096;

/**
 * Which caller is due a presence ack: one that has not had an ack from this worker for
 * {@link PRESENCE_INTERVAL_MS}. So every caller knows every worker that serves it, even when all
 * its calls finish at once, and can probe one that falls silent.
 */
export class CallerPresence {
  readonly #lastAck = new Map<string, number>();

  /** True when the caller of `reply` is due an ack at `now` (and records it). */
  due(reply: string, now: number): boolean {
    const prefix = reply.slice(0, reply.lastIndexOf('.') + 1);
    const last = this.#lastAck.get(prefix);
    if (last !== undefined && now - last < PRESENCE_INTERVAL_MS) return false;
    if (last === undefined && this.#lastAck.size >= MAX_CALLERS) this.#lastAck.clear();
    this.#lastAck.set(prefix, now);
    return true;
  }
}

export class AckBatch<Held = unknown> {
  readonly #worker: string;
  readonly #publish: (subject: string, data: Uint8Array) => void;
  readonly #stillHeld: (held: Held) => boolean;
  /** Reply subjects and starts of this batch, in arrival order. */
  #replies: string[] = [];
  #starts: AckedStart[] = [];
  #queued = false;
  /** Acks with nothing to start, and what each needs still held (null: always acked). */
  #lateReplies: string[] = [];
  #lateHeld: Array<Held | null> = [];
  #lateQueued = false;

  /** `stillHeld`: whether a late-acked request is still unanswered (it is acked only then). */
  constructor(workerId: string, publish: (subject: string, data: Uint8Array) => void, stillHeld: (held: Held) => boolean = () => true) {
    this.#worker = workerId;
    this.#publish = publish;
    this.#stillHeld = stillHeld;
  }

  /**
   * Acks `reply` with the current batch, then runs `start`. Without a `start` (a late ack, a
   * request held in a backlog) the ack goes in the next turn of the event loop, and is left out
   * when `held` is given and no longer `stillHeld` by then.
   */
  add(reply: string, start: AckedStart | null, held: Held | null = null): void {
    if (start === null) {
      this.#lateReplies.push(reply);
      this.#lateHeld.push(held);
      if (!this.#lateQueued) {
        this.#lateQueued = true;
        setImmediate(this.#flushLate);
      }
      return;
    }
    this.#replies.push(reply);
    this.#starts.push(start);
    if (!this.#queued) {
      this.#queued = true;
      queueMicrotask(this.#flush);
    }
  }

  /**
   * Sends every pending ack now. A worker does this before it answers a liveness probe, so the
   * caller reads every ack of what this worker holds before the answer (docs/protocol.md, *Census*).
   */
  flush(): void {
    this.#flushLate();
    this.#flush();
  }

  readonly #flushLate = (): void => {
    if (!this.#lateQueued) return; // flushed early, for a probe
    this.#lateQueued = false;
    const replies = this.#lateReplies;
    const held = this.#lateHeld;
    this.#lateReplies = [];
    this.#lateHeld = [];
    let kept = 0;
    for (let i = 0; i < replies.length; i++) {
      const h = held[i]!;
      if (h === null || this.#stillHeld(h)) replies[kept++] = replies[i]!; // answered already: nothing to ack
    }
    replies.length = kept;
    this.#sendAll(replies);
  };

  readonly #flush = (): void => {
    if (!this.#queued) return; // flushed early, for a probe
    this.#queued = false;
    const starts = this.#starts;
    this.#sendAll(this.#replies);
    this.#replies = [];
    this.#starts = [];
    // After the publishes: the client's write of the acks is queued first.
    queueMicrotask(() => {
      for (const s of starts) s.start();
    });
  };

  /** One ack message per caller (reply-subject prefix), at most MAX_ACK_REPLIES tokens each. */
  #sendAll(replies: readonly string[]): void {
    const callers = new Map<string, CallerAcks>();
    for (const reply of replies) {
      const dot = reply.lastIndexOf('.');
      const prefix = dot < 0 ? reply : reply.slice(0, dot);
      let acks = callers.get(prefix);
      if (acks === undefined || acks.replies.length >= MAX_ACK_REPLIES) {
        if (acks !== undefined) this.#send(acks);
        acks = { subject: reply, replies: [] };
        callers.set(prefix, acks);
      }
      acks.replies.push(dot < 0 ? reply : reply.slice(dot + 1));
    }
    for (const acks of callers.values()) this.#send(acks);
  }

  #send(acks: CallerAcks): void {
    try {
      this.#publish(acks.subject, encodeAck(this.#worker, acks.replies));
    } catch {
      // A closed connection: the handlers still run; their replies cannot leave either.
    }
  }
}
