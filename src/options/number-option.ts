/**
 * The one check behind every numeric option: clients, workers and the supervisor validate their
 * options up front, and a bad value is reported with the option's name, the range and what was
 * received.
 */

/** Returns `value` when it is a number (an integer unless `integer` is false) from `min` to `max`; else throws a TypeError naming `name`. */
export function checkNumber(name: string, value: unknown, min: number, max: number, integer = true): number {
  if (typeof value !== 'number' || Number.isNaN(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new TypeError(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, received ${String(value)}`);
  }
  return value;
}

/** {@link checkNumber} for integers. */
export function checkInt(name: string, value: unknown, min: number, max: number): number {
  return checkNumber(name, value, min, max, true);
}
