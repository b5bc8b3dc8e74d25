/**
 * What may travel as a payload, a result or error details: a check run before a value is
 * encoded, so that nothing is silently changed on the way (the table in docs/protocol.md,
 * *Values*). It refuses, naming the path (`payload.items[3].when`) and what was found there:
 * `Map`, `Set` and any object that is not a plain object, an array, a `Uint8Array` or a `Date`;
 * `undefined` inside an array; `NaN` and `±Infinity`; a bigint outside int64; an invalid `Date`;
 * functions and symbols; cyclic structures; nesting deeper than the receiver's guard accepts.
 * `undefined` as an object property value is omitted, as JSON does.
 *
 * One pass, no allocation on success: the path is only built, from the innermost key outwards,
 * when a value is refused.
 */
import { RpcError } from './errors.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_ELEMENTS } from './msgpack-guard.js';

/** Containers a value may nest: one level less than the guard's, for the envelope around it. */
export const MAX_VALUE_DEPTH = DEFAULT_MAX_DEPTH - 1;
/** Array items plus object keys and values, with room left for the envelope's own keys. */
export const MAX_VALUE_ELEMENTS = DEFAULT_MAX_ELEMENTS - 64;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The state of one check. One const object rather than module-level `let`s, which cost a check on
 * every access; checks are synchronous, so one is enough.
 */
const S = {
  /** The value holds a bigint, so it needs the encoder that writes them. */
  bigint: false,
  elements: 0,
};
/** Keys from the refused value outwards, filled only on refusal. */
const PATH: (string | number)[] = [];
/** What {@link visit} returns at the depth limit; checkValue then tells a cycle from deep nesting. */
const TOO_DEEP = 'too deep';

/**
 * Checks that `value` travels unchanged. Returns true when it holds a bigint; throws
 * `RpcError('BAD_REQUEST')` whose message names `root` and the path inside it, and the type.
 */
export function checkValue(value: unknown, root: string): boolean {
  if (typeof value !== 'object' || value === null) {
    // The common scalars, without a call.
    if (typeof value === 'string' || typeof value === 'boolean' || value === undefined) return false;
    if (typeof value === 'number' && value - value === 0) return false;
  }
  S.bigint = false;
  S.elements = 0;
  let reason = visit(value, 0);
  if (reason !== null) {
    // PATH runs from the refused value outwards.
    let keys = PATH.reverse().slice();
    PATH.length = 0;
    if (reason === TOO_DEEP) {
      const cycle = findCycle(value, keys);
      if (cycle === null) reason = `nested deeper than ${MAX_VALUE_DEPTH} levels`;
      else {
        reason = `a reference back to ${pathOf(root, keys.slice(0, cycle.start))} (a cycle)`;
        keys = keys.slice(0, cycle.back);
      }
    }
    throw new RpcError('BAD_REQUEST', `${pathOf(root, keys)} is ${reason}: it cannot travel unchanged (see "Values" in docs/protocol.md)`);
  }
  return S.bigint;
}

/**
 * Along the path to where the depth limit was reached: the first container met again (at depth
 * `back`) and where it was first met (depth `start`), or null when the nesting is just deep.
 */
function findCycle(value: unknown, keys: readonly (string | number)[]): { start: number; back: number } | null {
  const chain: unknown[] = [value];
  let at = value;
  for (const key of keys) {
    at = (at as Record<string | number, unknown>)[key];
    chain.push(at);
  }
  for (let back = 1; back < chain.length; back++) {
    const start = chain.indexOf(chain[back]);
    if (start < back) return { start, back };
  }
  return null;
}

/** `payload.items[3].when`: identifiers after a dot, indexes and other keys in brackets. */
function pathOf(root: string, keys: readonly (string | number)[]): string {
  let path = root;
  for (const key of keys) {
    if (typeof key === 'number') path += `[${key}]`;
    else path += /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  }
  return path;
}

/** `null` when `v` may travel, else what it is. Keys of a refusal are pushed onto PATH. */
function visit(v: unknown, depth: number): string | null {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return v - v === 0 ? null : String(v); // NaN and ±Infinity
    case 'bigint':
      if (v < INT64_MIN || v > INT64_MAX) return 'a bigint outside int64';
      S.bigint = true;
      return null;
    case 'object':
      return v === null ? null : visitObject(v, depth);
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    default:
      return `a ${typeof v}`;
  }
}

/**
 * Leaves that are strings, booleans and finite numbers (most of them) are checked in the loops,
 * without a call.
 */
function visitObject(v: object, depth: number): string | null {
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const enter = container(depth);
    if (enter !== null) return enter;
    const o = v as Record<string, unknown>;
    let n = 0;
    for (const key in o) {
      const item = o[key];
      const t = typeof item;
      n += 2;
      if (key === '__proto__') {
        PATH.push(key);
        return 'a "__proto__" key (receivers refuse it)';
      }
      if (t === 'string' || t === 'boolean' || (t === 'number' && (item as number) - (item as number) === 0)) continue;
      if (item === undefined) {
        n -= 2; // omitted, as JSON does
        continue;
      }
      const reason = visit(item, depth + 1);
      if (reason !== null) {
        PATH.push(key);
        return reason;
      }
    }
    return (S.elements += n) > MAX_VALUE_ELEMENTS ? `more than ${MAX_VALUE_ELEMENTS} elements` : null;
  }
  if (Array.isArray(v)) {
    if (proto !== Array.prototype) return describeInstance(proto);
    const enter = container(depth);
    if (enter !== null) return enter;
    const a = v as unknown[];
    const n = a.length;
    for (let i = 0; i < n; i++) {
      const item = a[i];
      const t = typeof item;
      if (t === 'string' || t === 'boolean' || (t === 'number' && (item as number) - (item as number) === 0)) continue;
      const reason = item === undefined ? 'undefined inside an array' : visit(item, depth + 1);
      if (reason !== null) {
        PATH.push(i);
        return reason;
      }
    }
    return (S.elements += n) > MAX_VALUE_ELEMENTS ? `more than ${MAX_VALUE_ELEMENTS} elements` : null;
  }
  if (v instanceof Uint8Array) return null; // a Buffer too: bin, arriving as Uint8Array
  if (proto === Date.prototype) return Number.isNaN((v as Date).getTime()) ? 'an invalid Date' : null;
  return `${describeInstance(proto)} (only plain objects, arrays, Uint8Array and Date travel)`;
}

/** Entering a container at `depth`: a reason when it is one level too deep. */
function container(depth: number): string | null {
  return depth >= MAX_VALUE_DEPTH ? TOO_DEEP : null;
}

/** "a Map" for the built-in classes, "an instance of Point" for the others. */
function describeInstance(proto: unknown): string {
  const ctor = (proto as { constructor?: unknown } | null)?.constructor;
  if (typeof ctor !== 'function' || ctor.name === '') return 'an object with a custom prototype';
  const native = Function.prototype.toString.call(ctor).includes('[native code]');
  return native ? `a ${ctor.name}` : `an instance of ${ctor.name}`;
}
