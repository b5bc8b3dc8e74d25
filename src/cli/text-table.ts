/**
 * Plain-text tables for people: columns padded to their widest cell, every cell escaped (cells
 * often hold text from the bus, which must not reach the terminal as control characters).
 */
import { escapeControl } from './escape.js';

export function textTable(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((r) => columns.map((_, i) => escapeControl(r[i] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  return [line(columns), ...cells.map(line)].join('\n');
}
