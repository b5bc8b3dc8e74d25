/**
 * Signed control commands. The supervisor signs each command with its nkey over the subject (so a
 * command for one worker cannot be replayed to another), a timestamp, a nonce and the body; the
 * signature travels in NATS message headers so the body format is untouched. Workers accept a
 * command only from a trusted public key, fresh (within the skew window) and never seen before,
 * so a leaked caller credential cannot drain a fleet even on a permissive account. The replay
 * policy is pure ({@link ReplayGuard}) and bounded in memory.
 */
import { randomBytes } from 'node:crypto';
import { headers as natsHeaders, nkeys, type MsgHdrs } from 'nats';

export const SIGNER_HEADER = 'Natsrpc-Signer';
export const TIMESTAMP_HEADER = 'Natsrpc-Ts';
export const NONCE_HEADER = 'Natsrpc-Nonce';
export const SIGNATURE_HEADER = 'Natsrpc-Sig';
/** Commands older or newer than this (by the worker's clock) are refused; it bounds clock skew too. */
export const DEFAULT_COMMAND_MAX_AGE_MS = 30_000;
/** Nonces remembered at most; past that the oldest are forgotten and older commands refused. */
export const DEFAULT_NONCE_CAPACITY = 10_000;

const encoder = new TextEncoder();

/** The bytes a signature covers: subject, timestamp, nonce and body, unambiguously separated. */
function signedBytes(subject: string, ts: string, nonce: string, body: Uint8Array): Uint8Array {
  const head = encoder.encode(`natsrpc-command-v1\n${subject}\n${ts}\n${nonce}\n`);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

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

/** The command's fields but `sig`, in key order, as JSON: what an in-body signature covers. */
function canonicalBody(command: SignableCommand): Uint8Array {
  const fields = Object.keys(command).filter((k) => k !== 'sig').sort();
  return encoder.encode(JSON.stringify(fields.map((k) => [k, (command as unknown as Record<string, unknown>)[k]])));
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

  /** Headers that sign `body` for `subject` now. */
  sign(subject: string, body: Uint8Array, now = Date.now(), nonce = randomBytes(12).toString('base64url')): MsgHdrs {
    const ts = String(now);
    const sig = this.#pair.sign(signedBytes(subject, ts, nonce, body));
    const h = natsHeaders();
    h.set(SIGNER_HEADER, this.publicKey);
    h.set(TIMESTAMP_HEADER, ts);
    h.set(NONCE_HEADER, nonce);
    h.set(SIGNATURE_HEADER, Buffer.from(sig).toString('base64url'));
    return h;
  }

  /**
   * Returns `command` with `sig` set to `<public key>.<signature>` over its other fields, bound to
   * its `target`, `ts` and `id`. For senders that carry the signature in the body.
   */
  signCommand<C extends SignableCommand>(command: C): C & { sig: string } {
    const unsigned = { ...command, sig: undefined };
    delete unsigned.sig;
    const sig = this.#pair.sign(signedBytes(command.target, String(command.ts), command.id, canonicalBody(unsigned)));
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

  /** Whether the command `body` received on `subject` with `headers` is to be obeyed. */
  verify(subject: string, headers: MsgHdrs | undefined, body: Uint8Array, now = Date.now()): CommandVerdict {
    const signer = headers?.get(SIGNER_HEADER) ?? '';
    const tsText = headers?.get(TIMESTAMP_HEADER) ?? '';
    const nonce = headers?.get(NONCE_HEADER) ?? '';
    const sigText = headers?.get(SIGNATURE_HEADER) ?? '';
    if (!signer && !sigText) return { ok: false, reason: 'unsigned' };
    const ts = Number(tsText);
    if (!/^\d{1,16}$/.test(tsText) || !/^[A-Za-z0-9_-]{8,64}$/.test(nonce) || !/^[A-Za-z0-9_-]{80,100}$/.test(sigText)) {
      return { ok: false, reason: 'malformed' };
    }
    if (!this.#trusted.has(signer)) return { ok: false, reason: 'untrusted' };
    let valid = false;
    try {
      valid = nkeys.fromPublic(signer).verify(signedBytes(subject, tsText, nonce, body), Buffer.from(sigText, 'base64url'));
    } catch {
      valid = false;
    }
    if (!valid) return { ok: false, reason: 'forged' };
    const fresh = this.#replays.admit(nonce, ts, now);
    return fresh === 'ok' ? { ok: true, signer } : { ok: false, reason: fresh };
  }

  /**
   * Checks a command signed with {@link NkeyCommandSigner.signCommand}. `target` must already have
   * been checked against the receiving worker's id.
   */
  verifyCommand(command: SignableCommand, now = Date.now()): CommandVerdict {
    if (typeof command.sig !== 'string' || command.sig === '') return { ok: false, reason: 'unsigned' };
    const dot = command.sig.indexOf('.');
    if (dot < 0 || typeof command.id !== 'string' || !Number.isSafeInteger(command.ts)) return { ok: false, reason: 'malformed' };
    const h = natsHeaders();
    h.set(SIGNER_HEADER, command.sig.slice(0, dot));
    h.set(TIMESTAMP_HEADER, String(command.ts));
    h.set(NONCE_HEADER, command.id);
    h.set(SIGNATURE_HEADER, command.sig.slice(dot + 1));
    return this.verify(command.target, h, canonicalBody(command), now);
  }
}
