/**
 * A worker's control endpoint: `drain`, `resume` and `shutdown` on its own subject, acknowledged.
 * Every command passes one gate, {@link WorkerControl.#accept}: decoding with the hostile-input
 * rules, validation, the target check and the optional verifier (signatures, say) all happen
 * there, before anything acts. Malformed or refused commands are logged and do nothing.
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import { decodeChecked, encode } from '../protocol/codec.js';
import { checkControlCommand, type ControlAck, type ControlCommand } from '../protocol/control.js';
import { PROTOCOL_VERSION } from '../protocol/envelope.js';
import { controlSubject } from '../protocol/subjects.js';
import type { Logger } from '../logging/logger.js';
import { LogThrottle } from '../logging/log-throttle.js';
import type { RpcWorker } from './worker.js';

/** Returns `null` to accept a well-formed command, or the reason to refuse it. */
export type ControlVerifier = (command: ControlCommand, msg: Msg) => string | null;

/** Control bodies are small: anything larger is refused before decoding. */
export const MAX_CONTROL_BYTES = 4_096;
/** At most one "refused control command" log line per this period, with a count of the rest. */
const REFUSAL_LOG_PERIOD_MS = 1_000;

export interface WorkerControlOptions {
  prefix: string;
  logger: Logger;
  verify?: ControlVerifier;
  /** Called once a `shutdown` command has stopped the worker (the CLI exits 0 there). */
  onShutdown?: () => void;
}

export class WorkerControl {
  readonly #worker: RpcWorker;
  readonly #nc: NatsConnection;
  readonly #opts: WorkerControlOptions;
  readonly #log: Logger;
  readonly #sub: Subscription;
  readonly #refusalLog = new LogThrottle(REFUSAL_LOG_PERIOD_MS);

  constructor(worker: RpcWorker, nc: NatsConnection, opts: WorkerControlOptions) {
    this.#worker = worker;
    this.#nc = nc;
    this.#opts = opts;
    this.#log = opts.logger;
    this.#sub = nc.subscribe(controlSubject(opts.prefix, worker.service, worker.id), { callback: (err, msg) => (err ? undefined : this.#onMessage(msg)) });
  }

  close(): void {
    if (!this.#nc.isClosed()) this.#sub.unsubscribe();
  }

  #onMessage(msg: Msg): void {
    const accepted = this.#accept(msg);
    if (typeof accepted === 'string') {
      this.#refused(accepted);
      this.#ack(msg, { v: PROTOCOL_VERSION, id: '', ok: false, error: accepted });
      return;
    }
    void this.#act(accepted).then(
      (state) => this.#ack(msg, { v: PROTOCOL_VERSION, id: accepted.id, ok: true, state }),
      (err: unknown) => this.#ack(msg, { v: PROTOCOL_VERSION, id: accepted.id, ok: false, state: this.#worker.state, error: String((err as Error)?.message ?? err) }),
    );
  }

  /** The one gate: returns the command, or why it is refused. */
  #accept(msg: Msg): ControlCommand | string {
    if (msg.data.length > MAX_CONTROL_BYTES) return `command of ${msg.data.length} bytes exceeds ${MAX_CONTROL_BYTES}`;
    let value: unknown;
    try {
      value = decodeChecked(msg.data);
    } catch (err) {
      return (err as Error).message;
    }
    const reason = checkControlCommand(value);
    if (reason !== null) return `invalid command: ${reason}`;
    const command = value as ControlCommand;
    if (command.target !== this.#worker.id) return `command for ${command.target} reached ${this.#worker.id}`;
    const refusal = this.#opts.verify?.(command, msg) ?? null;
    if (refusal !== null) return `command refused: ${refusal}`;
    return command;
  }

  async #act(command: ControlCommand): Promise<ControlAck['state']> {
    const w = this.#worker;
    this.#log.info({ cmd: command.cmd, from: command.from, reason: command.reason, commandId: command.id }, 'control command');
    switch (command.cmd) {
      case 'drain':
        if (w.state === 'stopped') throw new Error('worker is stopped');
        void w.drain();
        return w.state;
      case 'resume':
        await w.resume();
        return w.state;
      case 'shutdown':
        // Acknowledge first: the stop closes the connection the ack would travel on.
        setImmediate(() => void w.stop().then(() => this.#opts.onShutdown?.()));
        return 'draining';
    }
  }

  #ack(msg: Msg, ack: ControlAck): void {
    if (!msg.reply || this.#nc.isClosed()) return;
    try {
      msg.respond(encode(ack));
    } catch (err) {
      this.#log.warn({ err }, 'control ack not sent');
    }
  }

  #refused(reason: string): void {
    const suppressed = this.#refusalLog.take(Date.now());
    if (suppressed !== null) this.#log.warn({ reason, suppressed }, 'malformed or refused control command ignored');
  }
}
