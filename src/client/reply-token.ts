/**
 * Unguessable reply-subject tokens. Every attempt and probe waits on `<inbox>.<token>`, where the
 * token is 96 random bits (16 base64url characters): a third party that knows the inbox prefix
 * still cannot name a live reply subject, so it can neither answer a call (by publishing there or
 * by reflecting a request with that reply-to off a worker) nor cancel it. Random bytes come from
 * the OS in batches (`randomFillSync` into a pool), so a token costs one base64url encode of 12
 * bytes, not a system call. See docs/protocol.md, *Reply subjects*.
 */
import { randomFillSync } from 'node:crypto';

/** Random bytes per token: 96 bits. */
export const REPLY_TOKEN_BYTES = 12;
/** Tokens drawn per refill of the pool. */
const TOKENS_PER_POOL = 256;

const pool = Buffer.allocUnsafe(REPLY_TOKEN_BYTES * TOKENS_PER_POOL);
let offset = pool.length;

/** A fresh token: 16 characters of `[A-Za-z0-9_-]`, never reused (each pool byte is used once). */
export function replyToken(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += REPLY_TOKEN_BYTES;
  return pool.toString('base64url', start, offset);
}
