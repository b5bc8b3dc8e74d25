/**
 * The one way options are resolved, for clients, workers and the supervisor alike. Each option
 * is a row of the table (table.ts): its name, its default (a named constant with its unit), its
 * bounds and its environment variable. A value is taken from the explicit option first (the CLI's
 * flags become explicit options), then from the environment variable, then the default; whatever
 * is taken is validated, and a bad value throws a TypeError that names the option (and the
 * variable or flag it came from) and the value received.
 */
import { readEnv, type Env, processEnv } from './env.js';

/** What a number option counts, so that defaults read with their unit. */
export type Unit = 'ms' | 'count' | 'ratio' | 'percent' | 'factor' | 'port' | 'bytes';

interface OptionBase {
  /** The CLI flag that sets it, without the dashes, where the CLI has one. */
  readonly flag?: string;
  /** The option as written in code: `timeoutMs`, `retry.maxAttempts`, `policy.maxDrainPercent`. */
  readonly name: string;
  /**
   * The environment variable that sets it when the option is not given; `null` for the fields of
   * per-call policies that only code sets (hedging).
   */
  readonly env: string | null;
}

export interface NumberOption extends OptionBase {
  readonly kind: 'number';
  /** `undefined`: the option has no default and stays unset. */
  readonly default: number | undefined;
  readonly min: number;
  readonly max: number;
  /** Whole numbers only. */
  readonly integer: boolean;
  readonly unit: Unit;
}

export interface StringOption extends OptionBase {
  readonly kind: 'string';
  readonly default: string | undefined;
}

export interface ChoiceOption<T extends string = string> extends OptionBase {
  readonly kind: 'choice';
  readonly default: T;
  readonly choices: readonly T[];
}

export interface BooleanOption extends OptionBase {
  readonly kind: 'boolean';
  readonly default: boolean;
}

export type OptionSpec = NumberOption | StringOption | ChoiceOption | BooleanOption;

/** Narrower bounds for one resolution (a bound that depends on another option). */
export interface Bounds {
  readonly min?: number;
  readonly max?: number;
}

/** `NATSRPC_` and the option's name in capitals: `retry.maxAttempts` → `NATSRPC_RETRY_MAX_ATTEMPTS`. */
export function envNameOf(name: string): string {
  return `NATSRPC_${name.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

type Row<T> = Omit<T, 'kind' | 'env'> & { readonly env?: string | null };

export function numberOption<D extends number | undefined>(row: Row<NumberOption> & { readonly default: D }): NumberOption & { readonly default: D } {
  return Object.freeze({ kind: 'number' as const, env: envNameOf(row.name), ...row });
}

export function stringOption(row: Row<StringOption>): StringOption {
  return Object.freeze({ kind: 'string', env: envNameOf(row.name), ...row });
}

export function choiceOption<T extends string>(row: Row<ChoiceOption<T>>): ChoiceOption<T> {
  return Object.freeze({ kind: 'choice', env: envNameOf(row.name), ...row });
}

export function booleanOption(row: Row<BooleanOption>): BooleanOption {
  return Object.freeze({ kind: 'boolean', env: envNameOf(row.name), ...row });
}

/**
 * Validates an explicit value of a number option (no environment, no default): `label` is what
 * the message calls it, the option's name unless the value came from elsewhere.
 */
export function checkNumberOption(spec: NumberOption, value: unknown, bounds?: Bounds, label: string = spec.name): number {
  const min = bounds?.min ?? spec.min;
  const max = bounds?.max ?? spec.max;
  if (typeof value !== 'number' || Number.isNaN(value) || (spec.integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new TypeError(`${label} must be ${spec.integer ? 'an integer' : 'a number'} from ${min} to ${max}, received ${describe(value)}`);
  }
  return value;
}

/** The explicit value, else the environment's, else the default; validated. */
export function resolveNumber(spec: NumberOption & { default: number }, explicit: unknown, env?: Env, bounds?: Bounds): number;
export function resolveNumber(spec: NumberOption, explicit: unknown, env?: Env, bounds?: Bounds): number | undefined;
export function resolveNumber(spec: NumberOption, explicit: unknown, env: Env = processEnv(), bounds?: Bounds): number | undefined {
  if (explicit !== undefined) return checkNumberOption(spec, explicit, bounds);
  const text = spec.env === null ? undefined : readEnv(spec.env, env);
  if (text !== undefined) return numberFromText(spec, text, spec.env!, bounds);
  return spec.default === undefined ? undefined : checkNumberOption(spec, spec.default, bounds);
}

/**
 * Parses a number option written as text (an environment variable or a flag, named by `source`).
 * Only plain decimal numbers are accepted: `Number('')`, `'0x10'` or `'1e3'` are refused.
 */
export function numberFromText(spec: NumberOption, text: string, source: string, bounds?: Bounds): number {
  const trimmed = text.trim();
  const value = /^[+-]?(\d+\.?\d*|\.\d+)$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (Number.isNaN(value)) {
    const min = bounds?.min ?? spec.min;
    const max = bounds?.max ?? spec.max;
    throw new TypeError(`${source} (${spec.name}) must be ${spec.integer ? 'an integer' : 'a number'} from ${min} to ${max}, received ${JSON.stringify(text)}`);
  }
  return checkNumberOption(spec, value, bounds, `${source} (${spec.name})`);
}

/** A string option: explicit, else the environment's, else the default (may be undefined). */
export function resolveString(spec: StringOption, explicit: unknown, env: Env = processEnv()): string | undefined {
  if (explicit !== undefined) {
    if (typeof explicit !== 'string') throw new TypeError(`${spec.name} must be a string, received ${describe(explicit)}`);
    return explicit;
  }
  return (spec.env === null ? undefined : readEnv(spec.env, env)) ?? spec.default;
}

/** A choice option: one of its `choices`. */
export function resolveChoice<T extends string>(spec: ChoiceOption<T>, explicit: unknown, env: Env = processEnv()): T {
  const fromEnv = explicit === undefined && spec.env !== null ? readEnv(spec.env, env) : undefined;
  const value = explicit ?? fromEnv?.trim() ?? spec.default;
  if (!spec.choices.includes(value as T)) {
    const label = explicit === undefined ? `${spec.env} (${spec.name})` : spec.name;
    throw new TypeError(`${label} must be one of ${spec.choices.join(', ')}, received ${describe(value)}`);
  }
  return value as T;
}

/** A boolean option; in the environment `true`/`1` and `false`/`0`. */
export function resolveBoolean(spec: BooleanOption, explicit: unknown, env: Env = processEnv()): boolean {
  if (explicit !== undefined) {
    if (typeof explicit !== 'boolean') throw new TypeError(`${spec.name} must be a boolean, received ${describe(explicit)}`);
    return explicit;
  }
  const text = spec.env === null ? undefined : readEnv(spec.env, env)?.trim().toLowerCase();
  if (text === undefined) return spec.default;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new TypeError(`${spec.env} (${spec.name}) must be true, false, 1 or 0, received ${JSON.stringify(text)}`);
}

/** A value as an error message shows it: strings quoted, the rest as `String()` does. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  return String(value);
}
