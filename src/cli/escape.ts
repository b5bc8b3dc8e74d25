/**
 * Text from the bus (error messages, service names, hosts, results) is escaped before it reaches a
 * terminal: control characters and bidirectional overrides could otherwise move the cursor,
 * rewrite earlier lines, set the window title (OSC), ring the bell or hide text. Every command
 * that prints for people goes through this module, and only this one.
 */

/**
 * C0 controls (ESC, BEL, so CSI and OSC sequences too), DEL and C1 controls (U+009B is a one-
 * character CSI), the Unicode line and paragraph separators, and the bidi marks, embeddings,
 * overrides and isolates.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same, but line feeds and tabs: what may stay in text meant to be read as lines. */
const UNSAFE_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const unicodeEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** `s` on one line with every control character written as an escape (`\n`, `\u001b`...). */
export function escapeControl(s: string): string {
  return s.replace(UNSAFE, (c) => NAMED[c] ?? unicodeEscape(c));
}

/**
 * `s` with its line feeds and tabs kept and every other control character escaped: for text read
 * as lines (a `--raw` string result on a terminal) and for JSON text, which stays the same JSON
 * (`JSON.stringify` leaves DEL, C1 and bidi characters raw inside strings; the escapes are valid
 * JSON there, and line feeds only lay it out).
 */
export function escapeLines(s: string): string {
  return s.replace(UNSAFE_BUT_LINES, (c) => NAMED[c] ?? unicodeEscape(c));
}
