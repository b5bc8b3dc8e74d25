/**
 * Text from the bus (error messages, service names, metadata) is escaped before it reaches a
 * terminal: control characters and bidirectional overrides could otherwise move the cursor,
 * rewrite earlier lines or hide text.
 */

// C0 and C1 controls, DEL, and the Unicode bidi embedding, override and isolate characters.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `s` with every control character written as an escape (`\n`, `\u001b`...). */
export function escapeControl(s: string): string {
  return s.replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
