/**
 * One attempt of a call: a request on its own reply subject, and its watch on the worker that may
 * hold it. The attempt owns that watch's state and timers: the ack (which worker took it), the
 * probes of that worker once acknowledged, the suspicion when a worker of its service is lost
 * while it has no ack, the ack sweep's checks. What the watch concludes goes to its call
 * (call-engine.ts): the attempt was lost with its worker, or one more attempt should go beside it.
 */
import type { BodyChunk, BodyPull } from '../protocol/body.js';
import type { ReplyEnvelope } from '../protocol/envelope.js';
import type { RpcError } from '../protocol/errors.js';
import { AttemptBodies } from './call-bodies.js';
import { SUSPECT_AFTER_MS } from './census.js';
import type { CallSpec } from './client-options.js';
import type { LivenessProber } from './liveness.js';
import type { CallTransport, InboxEntry } from './transport.js';
import { encodeCredit } from '../protocol/stream.js';
import { creditSubject } from '../protocol/subjects.js';
import { openMovedReply, STREAM_REPLY_MOVE_MS } from './stream-replies.js';

/** What an attempt tells its call (implemented by `Call`). */
export interface AttemptOwner {
  /** `'done'` once the call has ended. */
  readonly state: string;
  onNoResponders(attempt: Attempt): void;
  onReply(attempt: Attempt, reply: ReplyEnvelope): void;
  onAttemptFailed(attempt: Attempt, err: RpcError): void;
  onConnectionLost(attempt: Attempt): void;
  onBodyPull(attempt: Attempt, pull: BodyPull): void;
  onBodyChunk(attempt: Attempt, chunk: BodyChunk): void;
  /** The attempt's worker is gone (`workerId` when it had acknowledged the attempt). */
  lostWithWorker(attempt: Attempt, workerId: string | undefined): void;
  /** Sends one more attempt beside those out, when the rules allow: true when it went. */
  sendAnother(): boolean;
}

/** One attempt: a request on its own reply subject. */
export class Attempt implements InboxEntry {
  #token = '';
  #sentAt = 0;
  #workerId: string | undefined = undefined;
  /** Probes, once acknowledged. */
  #timer: unknown = undefined;
  /**
   * When the ack sweep next looks at this unacknowledged attempt of an idempotent call for one more
   * attempt beside it (clock time; `Infinity` once it has had that extra attempt).
   */
  #resendCheckAt = 0;
  /** The call's `retry.perAttemptTimeoutMs`, when set and shorter than what is left of the deadline. */
  #attemptTimer: unknown = undefined;
  /** Set when a worker of the service was lost while this attempt had no ack yet. */
  #suspectTimer: unknown = undefined;
  #live = true;
  /** When its missing ack and reply were last reported (0: never). */
  #suspectedAt = 0;
  /** Acknowledged, and then a probe of its worker went unanswered (frozen, stalled). */
  #probeUnanswered = false;
  /** Counted among the call's silent attempts, which do not count against `retry.maxAttempts`. */
  #countedSilent = false;
  /** The chunked request body it sends and reply body it receives, when either is too long for one message. */
  #bodies: AttemptBodies | undefined = undefined;
  readonly #call: AttemptOwner;
  readonly #t: CallTransport;
  readonly #prober: LivenessProber;
  readonly #s: CallSpec;
  /**
   * The fresh reply subjects (tokens) an acknowledged attempt moved to, the last two, so that its
   * worker may still answer after the broker's permission for the request's own reply subject
   * expired (docs/protocol.md, *Long calls*); and when it moves next (clock time).
   */
  #moved: string[] | undefined = undefined;
  #moveAt = 0;

  constructor(call: AttemptOwner, t: CallTransport, prober: LivenessProber, spec: CallSpec, readonly no: number, readonly requestId: string) {
    this.#call = call;
    this.#t = t;
    this.#prober = prober;
    this.#s = spec;
  }

  /** The random last token of its reply subject: only what arrives there is its answer. */
  get token(): string {
    return this.#token;
  }

  /** When it was published (clock time). */
  get sentAt(): number {
    return this.#sentAt;
  }

  /** Sent and not yet answered, failed, lost or abandoned. */
  get live(): boolean {
    return this.#live;
  }

  /** The worker that acknowledged it, if one did. */
  get workerId(): string | undefined {
    return this.#workerId;
  }

  /** Acknowledged, and then a probe of its worker went unanswered. */
  get probeUnanswered(): boolean {
    return this.#probeUnanswered;
  }

  /** Its chunked request or reply body, once either went or came (see {@link openBodies}). */
  get bodies(): AttemptBodies | undefined {
    return this.#bodies;
  }

  /** Its chunked bodies, made the first time the worker pulls its request body or its reply is a body. */
  openBodies(): AttemptBodies {
    return (this.#bodies ??= new AttemptBodies(this.#t, this.#s.target.service, this.#token));
  }

  /** Counts it among the call's silent attempts: true the first time only (silent-attempts.ts). */
  countSilent(): boolean {
    if (this.#countedSilent) return false;
    this.#countedSilent = true;
    return true;
  }

  /** Opens its reply subject (a new random token) with the client's inbox: what arrives there comes to this attempt. */
  open(): void {
    this.#token = this.#t.open(this);
  }

  /** Published now: the ack sweep looks for its ack from `ackTimeoutMs` on. */
  sent(now: number): void {
    this.#sentAt = now;
    this.#resendCheckAt = now + this.#s.lostWorker.ackTimeoutMs;
  }

  /** `onTimeout` runs if it is still out after `ms` (the call's per-attempt timeout). */
  limit(ms: number, onTimeout: () => void): void {
    this.#attemptTimer = this.#t.clock.setTimer(() => {
      this.#attemptTimer = undefined;
      onTimeout();
    }, ms);
  }

  /** No longer live: its timers stop, and a reply body still being pulled is given up (the worker frees it). */
  end(): void {
    this.#live = false;
    this.#bodies?.abandon();
    if (this.#moved !== undefined) for (const token of this.#moved) this.#t.close(token);
    if (this.#timer === undefined && this.#attemptTimer === undefined && this.#suspectTimer === undefined) return;
    const clock = this.#t.clock;
    clock.clearTimer(this.#timer);
    clock.clearTimer(this.#attemptTimer);
    clock.clearTimer(this.#suspectTimer);
  }

  noResponders(): void {
    this.#call.onNoResponders(this);
  }

  /** A worker took the attempt: it is probed from now on. */
  acked(workerId: string): void {
    if (!this.#live || this.#workerId !== undefined) return;
    this.#workerId = workerId;
    const t = this.#t;
    const s = this.#s;
    t.sawWorker(s.target.service, workerId);
    const clock = t.clock;
    if (clock.now() - this.#sentAt <= s.lostWorker.ackTimeoutMs) s.target.budget.ackedPromptly(this.#sentAt);
    clock.clearTimer(this.#timer);
    clock.clearTimer(this.#suspectTimer);
    this.#suspectTimer = undefined;
    this.#timer = clock.setTimer(() => this.#probe(), s.lostWorker.probeAfterMs);
    this.#moveAt = clock.now() + STREAM_REPLY_MOVE_MS;
  }

  replied(reply: ReplyEnvelope): void {
    this.#call.onReply(this, reply);
  }

  unreadable(err: RpcError): void {
    this.#call.onAttemptFailed(this, err);
  }

  lost(): void {
    this.#call.onConnectionLost(this);
  }

  /**
   * A worker of some service was lost. The attempt it acknowledged is lost with it. An attempt of
   * this service that no worker has acknowledged and that was sent before the loss is presumed to
   * sit with the lost worker once it is `ackTimeoutMs` old: a live worker would have acknowledged
   * it by then (idempotent calls), or answered or late-acked it (plain calls). For a plain call
   * that presumption needs the supervisor's verdict: a probe's 503 only says the connection is
   * closed, as a drained worker's is after it served everything it took, and a plain call must not
   * fail for it.
   */
  workerLost(service: string, workerId: string, lostAt: number, verdict: boolean): void {
    const call = this.#call;
    if (!this.#live || call.state === 'done') return;
    if (this.#workerId === workerId) {
      call.lostWithWorker(this, workerId);
      return;
    }
    const s = this.#s;
    if (!verdict && !s.idempotent) return;
    if (this.#workerId !== undefined || service !== s.target.service || this.#sentAt > lostAt || this.#suspectTimer !== undefined) return;
    const clock = this.#t.clock;
    const waitMs = this.#sentAt + s.lostWorker.ackTimeoutMs - clock.now();
    if (waitMs <= 0) {
      call.lostWithWorker(this, undefined);
      return;
    }
    this.#suspectTimer = clock.setTimer(() => {
      this.#suspectTimer = undefined;
      if (this.#live && this.#workerId === undefined && call.state !== 'done') call.lostWithWorker(this, undefined);
    }, waitMs);
  }

  /**
   * A census of the service proved that no live worker holds what it did not acknowledge or
   * answer, and a worker was lost: an attempt sent before `before` that nobody acknowledged was
   * with it. A plain call fails `WORKER_LOST`; an idempotent one is sent again at once.
   */
  census(service: string, before: number): void {
    if (!this.#live || this.#call.state === 'done' || this.#workerId !== undefined || service !== this.#s.target.service || this.#sentAt >= before) return;
    this.#call.lostWithWorker(this, undefined);
  }

  /**
   * The client's ack sweep, twice per {@link SUSPECT_AFTER_MS}. No ack and no reply for that long:
   * a worker that took the attempt may be gone, so the client counts the service's workers
   * (census.ts), again every such period while silent. An idempotent call with no ack for
   * `ackTimeoutMs` also sends one more attempt beside it.
   */
  checkAck(now: number): void {
    if (!this.#live || this.#workerId !== undefined || this.#call.state === 'done') return;
    if (now - Math.max(this.#sentAt, this.#suspectedAt) >= SUSPECT_AFTER_MS) {
      this.#suspectedAt = now;
      this.#t.suspect(this.#s.target.service);
    }
    if (this.#s.idempotent && now >= this.#resendCheckAt) this.#onAckOverdue(now);
  }

  bodyPull(pull: BodyPull): void {
    this.#call.onBodyPull(this, pull);
  }

  bodyChunk(chunk: BodyChunk): void {
    this.#call.onBodyChunk(this, chunk);
  }

  /** No ack: the request may sit in a dead worker's socket buffer. Send it again, keep waiting on this one. */
  #onAckOverdue(now: number): void {
    if (this.#call.sendAnother()) {
      this.#resendCheckAt = Infinity;
      return;
    }
    // Another attempt is out and not yet silent, a retry is pending, or the rules refuse for now:
    // look again later, so an attempt lost without an ack is never simply waited out.
    this.#resendCheckAt = now + this.#s.lostWorker.ackTimeoutMs;
  }

  /**
   * Moves the acknowledged attempt to a fresh reply subject of the inbox: credit naming it (id and
   * the request's own token), with that subject as NATS reply, to its worker's credit subject. The
   * delivery opens the worker's permission to answer there; the reply may still come on the
   * subjects before, so the last two stay open with the request's own.
   */
  #move(workerId: string): void {
    const t = this.#t;
    this.#moveAt = t.clock.now() + STREAM_REPLY_MOVE_MS;
    const token = openMovedReply(t, this, (this.#moved ??= []));
    try {
      t.publish(creditSubject(t.prefix, this.#s.target.service, workerId), encodeCredit(this.requestId, this.token, 0, 0), t.replySubject(token));
    } catch {
      // The connection is down: the inbox tells the attempt (lost()).
    }
  }

  #probe(): void {
    const s = this.#s;
    const lw = s.lostWorker;
    const workerId = this.#workerId!;
    void this.#prober.probe(s.target.service, workerId, lw.probeTimeoutMs).then((state) => {
      if (this.#call.state === 'done' || !this.#live) return;
      // Every call held by that worker learns it at once, this one included.
      if (state === 'gone') {
        this.#t.workerLost(s.target.service, workerId, false);
        return;
      }
      // A worker that holds the attempt but cannot answer a probe is frozen or stalled: an
      // idempotent call sends one more attempt and keeps waiting on this one (first answer wins).
      this.#probeUnanswered = state === 'unknown';
      if (this.#t.clock.now() >= this.#moveAt) this.#move(workerId);
      if (this.#probeUnanswered && s.idempotent) this.#call.sendAnother();
      this.#timer = this.#t.clock.setTimer(() => this.#probe(), lw.probeIntervalMs);
    });
  }
}
