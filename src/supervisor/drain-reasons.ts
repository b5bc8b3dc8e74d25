/**
 * Drain reasons are free text with figures in them; for counting they are reduced to a few fixed
 * categories, so that metric label values stay bounded.
 */

const REASON_CATEGORIES: [RegExp, string][] = [
  [/^returned after being lost/, 'returned_after_lost'],
  [/consecutive INTERNAL/, 'consecutive_faults'],
  [/fault rate/, 'fault_rate'],
  [/past their deadline/, 'overdue'],
  [/stalled/, 'stalled'],
  [/event-loop delay/, 'loop_delay'],
  [/health check/, 'health_check'],
];

/** A bounded label for a drain reason: the category of its first (worst) cause. */
export function drainReasonCategory(reason: string | null): string {
  if (reason === null) return 'unknown';
  for (const [pattern, category] of REASON_CATEGORIES) if (pattern.test(reason)) return category;
  return 'other';
}
