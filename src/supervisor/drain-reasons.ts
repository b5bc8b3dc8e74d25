/**
 * Drains counted by reason, for metrics: the label is the decision's stable reason code (see
 * `HealthVerdict.codes` and ejection.ts), never text parsed back out of the reason's prose, so
 * label values stay few and fixed.
 */
import { RETURNED_AFTER_LOST } from './ejection.js';
import { HEALTH_REASON_CODES } from './policy.js';

/** Every reason code a drain or shutdown can carry. */
export const DRAIN_REASON_CODES: readonly string[] = [RETURNED_AFTER_LOST, ...HEALTH_REASON_CODES];

/** A bounded label for a drain's reason code: the code itself, `other` for one not known here, `unknown` for none. */
export function drainReasonLabel(code: string | null): string {
  if (code === null) return 'unknown';
  return DRAIN_REASON_CODES.includes(code) ? code : 'other';
}
