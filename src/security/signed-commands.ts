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
      return `{${Object.keys(map).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(map[k])}`).join(',')}}`;
    }
    default:
      throw new NotCanonicalError(`a ${typeof value} has no canonical JSON`);
  }
}

/**
 * The bytes a signature covers: the context, target, timestamp and id on lines of their own, then
 * every field but `sig` (unknown ones and nil ones too) as a JSON array of `[key, value]` pairs
 * sorted by key, each value in canonical JSON. Throws {@link NotCanonicalError} for a command that
 * has none.
 */
export function commandSigningInput(command: SignableCommand): Uint8Array {
  const fields = command as unknown as Record<string, unknown>;
  const keys = Object.keys(fields).filter((k) => k !== 'sig').sort();
  const canonical = `[${keys.map((k) => `[${JSON.stringify(k)},${canonicalJson(fields[k])}]`).join(',')}]`;
  return encoder.encode(`${SIGNING_CONTEXT}\n${command.target}\n${command.ts}\n${command.id}\n${canonical}`);
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
    if (typeof command.sig !== 'string' || command.sig === '') return { ok: false, reason: 'unsigned' };
    const dot = command.sig.indexOf('.');
    const signer = command.sig.slice(0, Math.max(0, dot));
    const signature = command.sig.slice(dot + 1);
    const wellFormed =
      dot > 0 &&
      SIGNATURE_PATTERN.test(signature) &&
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
    if (!this.#trusted.has(signer)) return { ok: false, reason: 'untrusted' };
    let valid = false;
    try {
      valid = nkeys.fromPublic(signer).verify(input, Buffer.from(signature, 'base64url'));
    } catch {
      valid = false;
    }
    if (!valid) return { ok: false, reason: 'forged' };
    const fresh = this.#replays.admit(command.id, command.ts, now);
    return fresh === 'ok' ? { ok: true, signer } : { ok: false, reason: fresh };
  }
}
