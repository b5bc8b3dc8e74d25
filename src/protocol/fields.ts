/**
 * Field checks shared by the validators of the supervision envelopes. Each returns whether a
 * decoded (hostile) value has the expected shape and bounds.
 */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

export function isBoundedInt(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** A finite number within bounds (latencies and delays are fractional). */
export function isBoundedNumber(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}

export function isShortString(value: unknown, max: number, min = 0): value is string {
  return typeof value === 'string' && value.length >= min && value.length <= max;
}

export function isOptional(value: unknown): boolean {
  return value === undefined || value === null;
}

/** A map of at most `maxKeys` short string keys to bounded non-negative integers. */
export function isCounterMap(value: unknown, maxKeys: number): value is Record<string, number> {
  if (!isRecord(value)) return false;
  let n = 0;
  for (const key in value) {
    if (++n > maxKeys || key.length > 64 || !isBoundedInt(value[key], 0, Number.MAX_SAFE_INTEGER)) return false;
  }
  return true;
}

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
