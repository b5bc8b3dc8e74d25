/**
 * Sending control commands to workers and reading their acks: the one place commands leave the
 * supervisor, so signing them (see `CommandSigner`) attaches here.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { requestOnce } from '../connection/request.js';
import { decodeChecked, encode } from '../protocol/codec.js';
import { checkControlAck, type ControlAck, type ControlCommand, type ControlCommandName } from '../protocol/control.js';
import { PROTOCOL_VERSION } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import { controlSubject } from '../protocol/subjects.js';

/** Adds a signature (or anything else) to a command before it is sent. */
export type CommandSigner = (command: ControlCommand) => ControlCommand;

export class CommandSender {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #from: string;
  readonly #timeoutMs: number;
  readonly #sign: CommandSigner | undefined;

  constructor(nc: NatsConnection, prefix: string, from: string, timeoutMs: number, sign?: CommandSigner) {
    this.#nc = nc;
    this.#prefix = prefix;
    this.#from = from;
    this.#timeoutMs = timeoutMs;
    this.#sign = sign;
  }

  /** Sends `cmd` to a worker of `service` and resolves with its ack; rejects with an RpcError when none comes. */
  async send(service: string, workerId: string, cmd: ControlCommandName, reason: string): Promise<ControlAck> {
    let command: ControlCommand = {
      v: PROTOCOL_VERSION,
      id: randomBytes(8).toString('hex'),
      cmd,
      target: workerId,
      from: this.#from,
      ts: Date.now(),
      reason: reason.slice(0, 1_000),
    };
    if (this.#sign !== undefined) command = this.#sign(command);
    let reply;
    try {
      // Not nc.request(): it parses the ack's NATS headers before anything can bound them.
      reply = await requestOnce(this.#nc, controlSubject(this.#prefix, service, workerId), encode(command), this.#timeoutMs);
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      if (code === 'NO_RESPONDERS') throw new RpcError('NO_RESPONDERS', `worker ${workerId} has no control subscription`, { cause });
      throw new RpcError('TIMEOUT', `worker ${workerId} did not acknowledge ${cmd} within ${this.#timeoutMs} ms`, { cause });
    }
    const ack = decodeChecked(reply.data);
    const invalid = checkControlAck(ack);
    if (invalid !== null) throw new RpcError('BAD_REQUEST', `invalid ack from ${workerId}: ${invalid}`);
    return ack as ControlAck;
  }
}
