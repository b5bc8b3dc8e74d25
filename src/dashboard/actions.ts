/**
 * Operator actions: drain or resume one worker, sent as control commands (signed when a signing
 * seed is configured, exactly as the supervisor signs its own), each one logged with who asked.
 * Only enabled by `allowActions`.
 */
import type { NatsConnection } from 'nats';
import type { Logger } from '../logging/logger.js';
import { RpcError } from '../protocol/errors.js';
import { checkWorkerId, serviceOfWorkerId } from '../protocol/subjects.js';
import { CommandSender, type CommandSigner } from '../supervisor/commands.js';

/** How long an action waits for the worker's acknowledgement. */
export const ACTION_TIMEOUT_MS = 3_000;
export const OPERATOR_ACTIONS = ['drain', 'resume'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

export interface ActionResult {
  ok: boolean;
  state: string | null;
  error: string | null;
}

export class OperatorActions {
  readonly #sender: CommandSender;
  readonly #log: Logger;

  constructor(nc: NatsConnection, prefix: string, from: string, log: Logger, sign?: CommandSigner) {
    this.#sender = new CommandSender(nc, prefix, from, ACTION_TIMEOUT_MS, sign);
    this.#log = log;
  }

  async run(workerId: string, action: OperatorAction, requester: string): Promise<ActionResult> {
    const service = checkWorkerId(workerId) === null ? serviceOfWorkerId(workerId) : null;
    if (service === null) throw new RpcError('BAD_REQUEST', 'invalid worker id');
    const reason = `operator ${action} from the dashboard (${requester})`;
    let result: ActionResult;
    try {
      const ack = await this.#sender.send(service, workerId, action, reason);
      result = { ok: ack.ok, state: ack.state ?? null, error: ack.error ?? null };
    } catch (err) {
      result = { ok: false, state: null, error: err instanceof RpcError ? `${err.code}: ${err.message}` : String(err) };
    }
    this.#log.info({ action, workerId, requester, ...result }, 'operator action');
    return result;
  }
}
