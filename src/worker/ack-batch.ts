/**
 * Acks in batches. Requests with `ack: true` that a worker reads at once (one socket read delivers
 * them in one synchronous run of subscription callbacks) are acknowledged together: one message
 * per caller, on the reply subject of one of its requests, naming the last tokens of the reply
 * subjects taken. Their handlers start after that, in arrival order, once the `nats` client has
 * queued the acks' write (it writes in a microtask queued by the publish), so a handler that kills
 * its process cannot prevent the ack. Under load one ack covers many calls; that is what makes
 * attribution almost free (docs/protocol.md, *Acks and lost workers*). Requests with `lateAck`
 * whose handler did not finish at once join the same batch, with nothing to start.
 */
import { encode } from '../protocol/codec.js';
import { MAX_ACK_REPLIES, PROTOCOL_VERSION } from '../protocol/envelope.js';

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

export class AckBatch {
  readonly #worker: string;
  readonly #publish: (subject: string, data: Uint8Array) => void;
  /** Reply subjects and starts of this batch, in arrival order (reused between batches). */
  #replies: string[] = [];
  #starts: Array<AckedStart | null> = [];
  #queued = false;

  constructor(workerId: string, publish: (subject: string, data: Uint8Array) => void) {
    this.#worker = workerId;
    this.#publish = publish;
  }

  /** Acks `reply` with the current batch, then runs `start` (none for a late ack). */
  add(reply: string, start: AckedStart | null): void {
    this.#replies.push(reply);
    this.#starts.push(start);
    if (!this.#queued) {
      this.#queued = true;
      queueMicrotask(this.#flush);
    }
  }

  /**
   * Sends the acks of this batch now rather than in the microtask queued for them. A worker does
   * this before it answers a liveness probe, so the caller reads every ack of what this worker
   * holds before the answer (docs/protocol.md, *Census*).
   */
  flush(): void {
    if (this.#queued) this.#flush();
  }

  readonly #flush = (): void => {
    if (!this.#queued) return; // flushed early, for a probe
    this.#queued = false;
    const replies = this.#replies;
    const starts = this.#starts;
    this.#replies = [];
    this.#starts = [];
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
    // After the publishes: the client's write of the acks is queued first.
    queueMicrotask(() => {
      for (const s of starts) s?.start();
    });
  };

  #send(acks: CallerAcks): void {
    try {
      this.#publish(acks.subject, encode({ v: PROTOCOL_VERSION, ack: true, worker: this.#worker, replies: acks.replies }));
    } catch {
      // A closed connection: the handlers still run; their replies cannot leave either.
    }
  }
}
