/**
 * One attempt of a call: a request on its own reply subject, with what the call engine
 * (call-engine.ts) keeps about it — when it was sent, which worker acknowledged it, its timers,
 * whether it is silent — and the inbox events it hands to its call.
 */
import type { BodyChunk, BodyPull } from '../protocol/body.js';
import type { ReplyEnvelope } from '../protocol/envelope.js';
import type { RpcError } from '../protocol/errors.js';
import type { AttemptBodies } from './call-bodies.js';
import type { InboxEntry } from './transport.js';

/** What an attempt tells its call (implemented by `Call`). */
export interface AttemptOwner {
  onNoResponders(attempt: Attempt): void;
  onAck(attempt: Attempt, workerId: string): void;
  onReply(attempt: Attempt, reply: ReplyEnvelope): void;
  onAttemptFailed(attempt: Attempt, err: RpcError): void;
  onConnectionLost(attempt: Attempt): void;
  onWorkerLost(attempt: Attempt, service: string, workerId: string, lostAt: number, verdict: boolean): void;
  onCensus(attempt: Attempt, service: string, before: number): void;
  onAckCheck(attempt: Attempt, now: number): void;
  onBodyPull(attempt: Attempt, pull: BodyPull): void;
  onBodyChunk(attempt: Attempt, chunk: BodyChunk): void;
}

/** One attempt: a request on its own reply subject. */
export class Attempt implements InboxEntry {
  /** The random last token of its reply subject: only what arrives there is its answer. */
  token = '';
  sentAt = 0;
  workerId: string | undefined = undefined;
  /** Probes, once acknowledged. */
  timer: unknown = undefined;
  /**
   * When the ack sweep next looks at this unacknowledged attempt of an idempotent call for one more
   * attempt beside it (clock time; `Infinity` once it has had that extra attempt).
   */
  resendCheckAt = 0;
  attemptTimer: unknown = undefined;
  /** Set when a worker of the service was lost while this attempt had no ack yet. */
  suspectTimer: unknown = undefined;
  live = true;
  /** When its missing ack and reply were last reported (0: never). */
  suspectedAt = 0;
  /** Acknowledged, and then a probe of its worker went unanswered (frozen, stalled). */
  probeUnanswered = false;
  /** Counted among the call's silent attempts, which do not count against `retry.maxAttempts`. */
  countedSilent = false;
  /** The chunked request body it sends and reply body it receives, when either is too long for one message. */
  bodies: AttemptBodies | undefined = undefined;
  constructor(
    readonly call: AttemptOwner,
    readonly no: number,
  ) {}
  noResponders(): void {
    this.call.onNoResponders(this);
  }
  acked(workerId: string): void {
    this.call.onAck(this, workerId);
  }
  replied(reply: ReplyEnvelope): void {
    this.call.onReply(this, reply);
  }
  unreadable(err: RpcError): void {
    this.call.onAttemptFailed(this, err);
  }
  lost(): void {
    this.call.onConnectionLost(this);
  }
  workerLost(service: string, workerId: string, lostAt: number, verdict: boolean): void {
    this.call.onWorkerLost(this, service, workerId, lostAt, verdict);
  }
  census(service: string, before: number): void {
    this.call.onCensus(this, service, before);
  }
  checkAck(now: number): void {
    this.call.onAckCheck(this, now);
  }
  bodyPull(pull: BodyPull): void {
    this.call.onBodyPull(this, pull);
  }
  bodyChunk(chunk: BodyChunk): void {
    this.call.onBodyChunk(this, chunk);
  }
}
