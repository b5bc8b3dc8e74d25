/**
 * Worker control commands and their acknowledgements. docs/protocol.md, section "Worker control",
 * is the normative description.
 */
import { isBoundedInt, isOptional, isRecord, isShortString, MAX_SAFE } from './fields.js';
import { PROTOCOL_VERSION } from './envelope.js';
import { checkWorkerId } from './subjects.js';
import { WORKER_STATES, type WorkerStateName } from './heartbeat.js';

export const CONTROL_COMMANDS = ['drain', 'resume', 'shutdown'] as const;
export type ControlCommandName = (typeof CONTROL_COMMANDS)[number];

export interface ControlCommand {
  v: typeof PROTOCOL_VERSION;
  /** Command id, echoed in the ack. */
  id: string;
  cmd: ControlCommandName;
  /** The worker id the command is meant for; must equal the receiving worker's id. */
  target: string;
  /** Who sends it (a supervisor id, or an operator's name). */
  from: string;
  /** Sender's wall clock, ms since the epoch. */
  ts: number;
  reason?: string;
  /** Room for a signature over the other fields (unused in version 1; ignored when absent). */
  sig?: string;
}

export interface ControlAck {
  v: typeof PROTOCOL_VERSION;
  id: string;
  ok: boolean;
  /** The worker's state after accepting the command. */
  state?: WorkerStateName;
  error?: string;
}

const MAX_TEXT = 256;

/** Returns `null` when `value` is a valid control command, else the reason. */
export function checkControlCommand(value: unknown): string | null {
  if (!isRecord(value)) return 'command is not a map';
  if (value.v !== PROTOCOL_VERSION) return `unsupported protocol version ${String(value.v)}`;
  if (!isShortString(value.id, 128, 1)) return 'invalid id';
  if (!(CONTROL_COMMANDS as readonly unknown[]).includes(value.cmd)) return 'invalid cmd';
  if (checkWorkerId(value.target) !== null) return 'invalid target';
  if (!isShortString(value.from, MAX_TEXT, 1)) return 'invalid from';
  if (!isBoundedInt(value.ts, 0, MAX_SAFE)) return 'invalid ts';
  if (!isOptional(value.reason) && !isShortString(value.reason, 1_024)) return 'invalid reason';
  if (!isOptional(value.sig) && !isShortString(value.sig, 1_024)) return 'invalid sig';
  return null;
}

/** Returns `null` when `value` is a valid control ack, else the reason. */
export function checkControlAck(value: unknown): string | null {
  if (!isRecord(value)) return 'ack is not a map';
  if (value.v !== PROTOCOL_VERSION) return `unsupported protocol version ${String(value.v)}`;
  if (!isShortString(value.id, 128)) return 'invalid id';
  if (typeof value.ok !== 'boolean') return 'invalid ok';
  if (!isOptional(value.state) && !(WORKER_STATES as readonly unknown[]).includes(value.state)) return 'invalid state';
  if (!isOptional(value.error) && !isShortString(value.error, 1_024)) return 'invalid error';
  return null;
}
