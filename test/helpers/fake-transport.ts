/**
 * A fake clock and a fake broker for driving the client's call engine through its transport
 * interface, deterministically: time moves only when a test advances it, and every publish is
 * recorded for the test to answer (or not).
 */
import { decodeChecked, decodeRequest } from '../../src/protocol/codec.js';
import type { RequestEnvelope } from '../../src/protocol/envelope.js';
import { createLogger } from '../../src/logging/logger.js';
import { DeadlineQueue } from '../../src/timing/deadline-queue.js';
import { DEFAULT_MSGPACK_LIMITS } from '../../src/protocol/msgpack-guard.js';
import { DEFAULT_MAX_BODY_BYTES } from '../../src/options/table.js';
import type { Clock } from '../../src/timing/clock.js';
import type { CallTransport, Expirable, InboxEntry } from '../../src/client/transport.js';

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/** Lets promise callbacks (the engine's `.then`s) run. */
export const settle = () => new Promise<void>((r) => setImmediate(r));

export class FakeClock implements Clock {
  #now = 1_000;
  #next = 1;
  readonly #timers = new Map<number, FakeTimer>();

  now(): number {
    return this.#now;
  }

  /** Timers set and neither fired nor cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimer(timer: unknown): void {
    if (typeof timer === 'number') this.#timers.delete(timer);
  }

  /** Moves time forward by `ms`, running each timer due on the way in time order. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    while (true) {
      let due: FakeTimer | undefined;
      for (const t of this.#timers.values()) if (t.at <= end && (due === undefined || t.at < due.at || (t.at === due.at && t.id < due.id))) due = t;
      if (due === undefined) break;
      this.#timers.delete(due.id);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
      await settle();
    }
    this.#now = end;
  }
}

export interface Sent {
  subject: string;
  reply: string | undefined;
  /** The request envelope, for requests. */
  req: RequestEnvelope | undefined;
  /** The decoded body, for anything else (cancels, probes). */
  body: unknown;
  /** The last token of `reply` ('' without one). */
  token: string;
}

export class FakeTransport implements CallTransport {
  readonly prefix = 'rpc';
  readonly logger = createLogger('fake', 'silent');
  readonly clock = new FakeClock();
  readonly deadlines = new DeadlineQueue<Expirable>((item) => item.expire(), 5, this.clock);
  readonly entries = new Map<string, InboxEntry>();
  readonly sent: Sent[] = [];
  readonly limits = DEFAULT_MSGPACK_LIMITS;
  readonly maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
  /** The fake broker's max_payload. */
  maxPayloadBytes = 1024 * 1024;
  connected = true;
  #seq = 0;
  #waiters: Array<(ok: boolean) => void> = [];

  maxPayload(): number {
    return this.maxPayloadBytes;
  }

  isConnected(): boolean {
    return this.connected;
  }

  whenConnected(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.clock.setTimer(() => resolve(false), timeoutMs);
      this.#waiters.push((ok) => {
        this.clock.clearTimer(timer);
        resolve(ok);
      });
    });
  }

  /** The connection drops: every entry hears it. */
  disconnect(): void {
    this.connected = false;
    for (const e of [...this.entries.values()]) e.lost();
  }

  reconnect(): void {
    this.connected = true;
    for (const w of this.#waiters.splice(0)) w(true);
  }

  open(entry: InboxEntry): string {
    const token = `t${++this.#seq}`;
    this.entries.set(token, entry);
    return token;
  }

  replySubject(token: string): string {
    return `_INBOX.fake.${token}`;
  }

  close(token: string): void {
    this.entries.delete(token);
  }

  publish(subject: string, data: Uint8Array, reply?: string): void {
    if (!this.connected) throw new Error('disconnected');
    const token = reply === undefined ? '' : reply.slice(reply.lastIndexOf('.') + 1);
    const isRequest = subject.startsWith(`${this.prefix}.`) && !subject.startsWith(`${this.prefix}._`);
    this.sent.push({ subject, reply, token, req: isRequest ? decodeRequest(data) : undefined, body: isRequest || data.length === 0 ? undefined : decodeChecked(data) });
  }

  workerLost(service: string, workerId: string, verdict = true): void {
    const now = this.clock.now();
    for (const e of [...this.entries.values()]) e.workerLost(service, workerId, now, verdict);
  }

  readonly seen: Array<[string, string]> = [];
  readonly suspected: string[] = [];

  sawWorker(service: string, workerId: string): void {
    this.seen.push([service, workerId]);
  }

  suspect(service: string): void {
    this.suspected.push(service);
  }

  /** The client's periodic look at overdue acks. */
  checkAcks(): void {
    const now = this.clock.now();
    for (const e of [...this.entries.values()]) e.checkAck(now);
  }

  /** Requests sent so far (not cancels or probes). */
  requests(): Sent[] {
    return this.sent.filter((s) => s.req !== undefined);
  }

  cancels(): Sent[] {
    return this.sent.filter((s) => s.subject.startsWith(`${this.prefix}._cancel.`));
  }

  probes(): Sent[] {
    return this.sent.filter((s) => s.subject.startsWith(`${this.prefix}._ping.`));
  }

  /** The entry still waiting on the reply subject of `sent`. */
  entryOf(sent: Sent): InboxEntry {
    const e = this.entries.get(sent.token);
    if (e === undefined) throw new Error(`no entry waits on ${sent.reply}`);
    return e;
  }

  /** Answers request `sent` with a success. */
  reply(sent: Sent, result: unknown): void {
    this.entryOf(sent).replied({ v: 1, id: sent.req!.id, ok: true, result });
  }

  /** Answers request `sent` with an error code. */
  fail(sent: Sent, code: string, retryable: boolean): void {
    this.entryOf(sent).replied({ v: 1, id: sent.req!.id, ok: false, error: { code, message: code, retryable, business: false } });
  }
}
