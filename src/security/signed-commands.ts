/**
 * Signed control commands. The supervisor signs each command with its nkey, in the command's own
 * `sig` field, over its target (so a command for one worker cannot be replayed to another), its
 * timestamp, its id (the nonce) and every other field. Workers accept a command only from a
 * trusted public key, fresh (within the skew window) and never seen before, so a leaked caller
 * credential cannot drain a fleet even on a permissive account. The replay policy is pure
 * ({@link ReplayGuard}) and bounded in memory. docs/protocol.md, section "Signed control
 * commands", says how to sign from another language.
 */
import { nkeys } from 'nats';

/** Commands older or newer than this (by the worker's clock) are refused; it bounds clock skew too. */
export const DEFAULT_COMMAND_MAX_AGE_MS = 30_000;
/** Nonces remembered at most; past that the oldest are forgotten and older commands refused. */
export const DEFAULT_NONCE_CAPACITY = 10_000;
/** A command id fit to serve as a nonce. */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;
/** An ed25519 signature (64 bytes) in base64url without padding is 86 characters. */
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{80,100}$/;
/** Separates these signatures from any other use of the same key. */
const SIGNING_CONTEXT = 'natsrpc-command-v1';
/** The same for supervisor heartbeats and events. */
const MESSAGE_CONTEXT = 'natsrpc-message-v1';

const encoder = new TextEncoder();

/**
 * A command that carries its own id (used as the nonce), timestamp and target, with room for a
 * signature: the shape of natsrpc control commands.
 */
export interface SignableCommand {
  id: string;
  ts: number;
  target: string;
  sig?: string;
}

/** A command holding a value that has no canonical JSON (bytes, an extension value, NaN...). */
export class NotCanonicalError extends TypeError {}

/**
 * The canonical JSON of one value (docs/protocol.md, *Signed control commands*): numbers as
 * ECMAScript writes them, maps with their keys sorted at every depth, no whitespace; bytes,
 * extension values (a Date) and non-finite numbers have none.
 */
function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new NotCanonicalError(`${value} has no canonical JSON`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new NotCanonicalError('bytes and extension values have no canonical JSON');
      const map = value as Record<string, unknown>;
      return `{${definedKeys(map).map((k) => `${JSON.stringify(k)}:${canonicalJson(map[k])}`).join(',')}}`;
    }
    default:
      throw new NotCanonicalError(`a ${typeof value} has no canonical JSON`);
  }
}

/** The keys of `map` that travel (an undefined value is not sent), sorted by UTF-16 code units. */
function definedKeys(map: Record<string, unknown>): string[] {
  return Object.keys(map).filter((k) => map[k] !== undefined).sort();
}

/**
 * The bytes a signature covers: the context, target, timestamp and id on lines of their own, then
 * every field but `sig` (unknown ones and nil ones too) as a JSON array of `[key, value]` pairs
 * sorted by key, each value in canonical JSON. Throws {@link NotCanonicalError} for a message that
 * has none. The one way natsrpc signs: commands and supervisor messages differ only in the context.
 */
function signingInput(context: string, target: string, ts: number, id: string, fields: Record<string, unknown>): Uint8Array {
  const keys = definedKeys(fields).filter((k) => k !== 'sig');
  const canonical = `[${keys.map((k) => `[${JSON.stringify(k)},${canonicalJson(fields[k])}]`).join(',')}]`;
  return encoder.encode(`${context}\n${target}\n${ts}\n${id}\n${canonical}`);
}

/** What a control command's signature covers (docs/protocol.md, *Signed control commands*). */
export function commandSigningInput(command: SignableCommand): Uint8Array {
  return signingInput(SIGNING_CONTEXT, command.target, command.ts, command.id, command as unknown as Record<string, unknown>);
}

/**
 * A message a supervisor publishes (its heartbeat, an event): signed over the subject it is
 * published on (its target), its `ts` and its sender's id, so it cannot be replayed on another
 * subject or passed off as another supervisor's.
 */
export interface SignableMessage {
  ts: number;
  sig?: string;
}

/** What a supervisor message's signature covers (docs/protocol.md, *Signed supervisor messages*). */
export function messageSigningInput(subject: string, sender: string, message: SignableMessage): Uint8Array {
  return signingInput(MESSAGE_CONTEXT, subject, message.ts, sender, message as unknown as Record<string, unknown>);
}

/** Signs commands with one nkey seed (the supervisor's). */
export class NkeyCommandSigner {
  readonly #pair: ReturnType<typeof nkeys.fromSeed>;
  /** The public key workers must trust (`U...`, `A...` or `O...`). */
  readonly publicKey: string;

  constructor(seed: string | Uint8Array) {
    try {
      this.#pair = nkeys.fromSeed(typeof seed === 'string' ? encoder.encode(seed.trim()) : seed);
    } catch (cause) {
      throw new TypeError('signing seed is not a valid nkey seed', { cause });
    }
    this.publicKey = this.#pair.getPublicKey();
  }

  /** Returns `command` with `sig` set to `<public key>.<signature>` over its other fields. */
  signCommand<C extends SignableCommand>(command: C): C & { sig: string } {
    const unsigned = { ...command, sig: undefined };
    delete unsigned.sig;
    const sig = this.#pair.sign(commandSigningInput(unsigned));
    return { ...unsigned, sig: `${this.publicKey}.${Buffer.from(sig).toString('base64url')}` };
  }

  /** Returns `message` with `sig` over it as published on `subject` by `sender`. */
  signMessage<M extends SignableMessage>(subject: string, sender: string, message: M): M & { sig: string } {
    const unsigned = { ...message, sig: undefined };
    const sig = this.#pair.sign(messageSigningInput(subject, sender, unsigned));
    return { ...unsigned, sig: `${this.publicKey}.${Buffer.from(sig).toString('base64url')}` };
  }
}

export type CommandVerdict =
  | { ok: true; signer: string }
  | { ok: false; reason: 'unsigned' | 'malformed' | 'untrusted' | 'forged' | 'stale' | 'replayed' };

/**
 * Remembers the nonces of accepted commands while they are fresh. Pure: the caller passes the
 * time. A command older than `maxAgeMs`, or older than the last nonce forgotten for lack of room,
 * is refused as stale, so forgetting never lets a replay through.
 */
export class ReplayGuard {
  readonly #maxAgeMs: number;
  readonly #capacity: number;
  /** nonce → timestamp, in insertion order. */
  readonly #seen = new Map<string, number>();
  #floor = -Infinity;

  constructor(maxAgeMs = DEFAULT_COMMAND_MAX_AGE_MS, capacity = DEFAULT_NONCE_CAPACITY) {
    if (!Number.isInteger(maxAgeMs) || maxAgeMs < 1) throw new TypeError(`maxAgeMs must be a positive integer, received ${maxAgeMs}`);
    if (!Number.isInteger(capacity) || capacity < 1) throw new TypeError(`capacity must be a positive integer, received ${capacity}`);
    this.#maxAgeMs = maxAgeMs;
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#seen.size;
  }

  /** How far a timestamp may be from this host's clock, in ms. */
  get maxAgeMs(): number {
    return this.#maxAgeMs;
  }

  /** Records `nonce` and says whether the command is fresh and new. */
  admit(nonce: string, ts: number, now: number): 'ok' | 'stale' | 'replayed' {
    if (Math.abs(now - ts) > this.#maxAgeMs || ts <= this.#floor) return 'stale';
    if (this.#seen.has(nonce)) return 'replayed';
    for (const [n, t] of this.#seen) {
      if (now - t <= this.#maxAgeMs && this.#seen.size < this.#capacity) break;
      this.#seen.delete(n);
      // What is forgotten can no longer be recognised: refuse anything as old from now on.
      if (now - t <= this.#maxAgeMs) this.#floor = Math.max(this.#floor, t);
    }
    this.#seen.set(nonce, ts);
    return 'ok';
  }
}

/** Checks signed commands on the worker side. */
export class NkeyCommandVerifier {
  readonly #trusted: Set<string>;
  readonly #replays: ReplayGuard;

  /** `trustedKeys`: public keys of the supervisors whose commands are obeyed. */
  constructor(trustedKeys: string[], replays = new ReplayGuard()) {
    if (trustedKeys.length === 0) throw new TypeError('trustedKeys must name at least one public key');
    for (const k of trustedKeys) {
      try {
        nkeys.fromPublic(k);
      } catch (cause) {
        throw new TypeError(`trusted key ${JSON.stringify(k)} is not an nkey public key`, { cause });
      }
    }
    this.#trusted = new Set(trustedKeys);
    this.#replays = replays;
  }

  /**
   * Whether a (decoded) command signed with {@link NkeyCommandSigner.signCommand} is to be obeyed.
   * `target` must already have been checked against the receiving worker's id.
   */
  verifyCommand(command: SignableCommand, now = Date.now()): CommandVerdict {
    const parts = splitSignature(command.sig);
    if (parts === 'unsigned' || parts === 'malformed') return { ok: false, reason: parts };
    const wellFormed =
      typeof command.id === 'string' &&
      NONCE_PATTERN.test(command.id) &&
      typeof command.target === 'string' &&
      Number.isSafeInteger(command.ts) &&
      command.ts >= 0;
    if (!wellFormed) return { ok: false, reason: 'malformed' };
    let input: Uint8Array;
    try {
      input = commandSigningInput(command);
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const signer = parts.signer;
    if (!this.#trusted.has(signer)) return { ok: false, reason: 'untrusted' };
    const valid = verifies(signer, input, parts.signature);
    if (!valid) return { ok: false, reason: 'forged' };
    const fresh = this.#replays.admit(command.id, command.ts, now);
    return fresh === 'ok' ? { ok: true, signer } : { ok: false, reason: fresh };
  }

  /**
   * Whether a (decoded) supervisor message received on `subject`, from `sender` by its own
   * account, is signed by a trusted key and fresh (`ts` within the skew window). Messages are
   * states, not orders: a replay within the window repeats what the sender said, so no nonce.
   */
  verifyMessage(subject: string, sender: string, message: SignableMessage, now = Date.now()): CommandVerdict {
    const parts = splitSignature(message.sig);
    if (parts === 'unsigned' || parts === 'malformed') return { ok: false, reason: parts };
    if (!Number.isSafeInteger(message.ts) || message.ts < 0) return { ok: false, reason: 'malformed' };
    let input: Uint8Array;
    try {
      input = messageSigningInput(subject, sender, message);
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (!this.#trusted.has(parts.signer)) return { ok: false, reason: 'untrusted' };
    if (!verifies(parts.signer, input, parts.signature)) return { ok: false, reason: 'forged' };
    if (Math.abs(now - message.ts) > this.#replays.maxAgeMs) return { ok: false, reason: 'stale' };
    return { ok: true, signer: parts.signer };
  }
}

function splitSignature(sig: unknown): { signer: string; signature: string } | 'unsigned' | 'malformed' {
  if (typeof sig !== 'string' || sig === '') return 'unsigned';
  const dot = sig.indexOf('.');
  const signature = sig.slice(dot + 1);
  if (dot <= 0 || !SIGNATURE_PATTERN.test(signature)) return 'malformed';
  return { signer: sig.slice(0, dot), signature };
}

function verifies(signer: string, input: Uint8Array, signature: string): boolean {
  try {
    return nkeys.fromPublic(signer).verify(input, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}
