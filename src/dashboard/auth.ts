/**
 * The optional bearer token. A request carries it as `Authorization: Bearer <token>` (tools) or as
 * the cookie the page sets after `/?token=<token>` (browsers, whose EventSource cannot send
 * headers). Compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'natsrpc_dashboard';

const digest = (s: string) => createHash('sha256').update(s).digest();

export class TokenCheck {
  readonly #expected: Buffer | null;
  readonly #token: string | null;

  constructor(token: string | undefined) {
    if (token !== undefined && token.length < 8) throw new TypeError(`dashboard token must be at least 8 characters, received ${token.length}`);
    this.#token = token ?? null;
    this.#expected = token === undefined ? null : digest(token);
  }

  get required(): boolean {
    return this.#expected !== null;
  }

  /** Whether `given` is the token. */
  matches(given: string | null | undefined): boolean {
    if (this.#expected === null) return true;
    if (typeof given !== 'string' || given.length === 0 || given.length > 1_024) return false;
    return timingSafeEqual(digest(given), this.#expected);
  }

  /** Whether the request is allowed: no token configured, or it carries the right one. */
  allows(req: IncomingMessage): boolean {
    if (this.#expected === null) return true;
    const auth = req.headers.authorization;
    if (auth !== undefined && /^Bearer /i.test(auth)) return this.matches(auth.slice(7).trim());
    return this.matches(cookieValue(req.headers.cookie, TOKEN_COOKIE));
  }

  /** The Set-Cookie header value that lets the browser in. */
  cookie(): string {
    return `${TOKEN_COOKIE}=${encodeURIComponent(this.#token ?? '')}; HttpOnly; SameSite=Strict; Path=/`;
  }
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}
