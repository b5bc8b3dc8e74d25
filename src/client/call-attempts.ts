/**
 * A call's attempts: those out (sent and not yet answered, lost or abandoned), how many were sent,
 * and the reply tokens of attempts cut off by a dropped connection, which may still run on their
 * workers. Every end of an attempt goes through here: it stops its timers, leaves the list and
 * closes its reply subject. The call (call-engine.ts) decides what each end means.
 */
import type { Attempt } from './attempt.js';
import type { CallTransport } from './transport.js';

export class CallAttempts {
  readonly #t: CallTransport;
  readonly #out: Attempt[] = [];
  #sent = 0;
  /** Tokens of attempts cut off by a dropped connection, which may still run on their workers. */
  #abandoned: string[] | undefined = undefined;

  constructor(t: CallTransport) {
    this.#t = t;
  }

  /** The attempts out. */
  get out(): readonly Attempt[] {
    return this.#out;
  }

  /** How many attempts are out. */
  get count(): number {
    return this.#out.length;
  }

  /** Attempts sent so far (numbered from 1). */
  get sent(): number {
    return this.#sent;
  }

  /** The number of the attempt about to be sent. */
  next(): number {
    return ++this.#sent;
  }

  /** `attempt` went out. */
  add(attempt: Attempt): void {
    this.#out.push(attempt);
  }

  /** `attempt` ended (answered, failed, lost): no longer out. */
  drop(attempt: Attempt): void {
    attempt.end();
    const out = this.#out;
    const i = out.indexOf(attempt);
    if (i >= 0) out.splice(i, 1);
    this.#t.close(attempt.token);
  }

  /** The connection dropped with `attempt` out: it may still run on its worker, and is cancelled with the others when the call ends. */
  abandon(attempt: Attempt): void {
    this.drop(attempt);
    (this.#abandoned ??= []).push(attempt.token);
  }

  /** The call ended: ends every attempt out. Returns the tokens to cancel (those out and those abandoned), or null when there are none. */
  endAll(): string[] | null {
    if (this.#out.length === 0) return this.#abandoned ?? null;
    const t = this.#t;
    const tokens = this.#abandoned ?? [];
    for (const attempt of this.#out.splice(0)) {
      attempt.end();
      t.close(attempt.token);
      tokens.push(attempt.token);
    }
    return tokens;
  }

  /** The attempts out, for an error message: `#1 (no ack), #2 (at <worker>)`, or `none`. */
  describe(): string {
    return this.#out.map((a) => `#${a.no}${a.workerId === undefined ? ' (no ack)' : ` (at ${a.workerId})`}`).join(', ') || 'none';
  }
}
