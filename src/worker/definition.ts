/**
 * What a worker is: a service name and its methods. The definition is plain data so that the
 * same object types the client (through `ApiOf`) and runs in the worker.
 */
import { assertName } from '../protocol/subjects.js';
import { checkNumberOption } from '../options/resolve.js';
import { WORKER_OPTIONS } from '../options/table.js';
import { isStandardSchema, type StandardSchemaV1 } from '../contract/standard-schema.js';
import type { HandlerContext } from './context.js';
import { isStreamingHandler } from '../contract/streaming.js';

/** A method handler: gets the payload and the call's context, returns the result or throws. */
export type Handler<P = any, R = any> = (payload: P, ctx: HandlerContext) => R | Promise<R>;

/**
 * A method with a contract: Standard Schema validators for its input and output, and whether it
 * is idempotent (clients built from the definition may then retry it after a timeout and hedge it).
 */
export interface MethodSpec<I extends StandardSchemaV1 | undefined = any, O extends StandardSchemaV1 | undefined = any, R = any> {
  input?: I;
  output?: O;
  idempotent?: boolean;
  handler: Handler<I extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<I> : any, R>;
}

export type MethodMap = Record<string, Handler | MethodSpec>;

/** A method as the worker runs it. */
export interface ResolvedMethod {
  readonly handler: Handler;
  readonly input: StandardSchemaV1 | undefined;
  readonly output: StandardSchemaV1 | undefined;
  readonly idempotent: boolean;
  /** The handler is an `async function*`: each `yield` is one item of a stream. */
  readonly streaming: boolean;
}

/**
 * Declares a method with a contract; the handler's payload is typed from the input schema.
 *
 * @example
 * ```ts
 * add: method({
 *   input: z.object({ a: z.number(), b: z.number() }),
 *   output: z.number(),
 *   idempotent: true,
 *   handler: ({ a, b }) => a + b,
 * }),
 * ```
 */
export function method<I extends StandardSchemaV1 | undefined = undefined, O extends StandardSchemaV1 | undefined = undefined, R = unknown>(
  spec: MethodSpec<I, O, R>,
): MethodSpec<I, O, R> {
  return spec;
}

/** The handler and contract of a method entry (a bare function or a {@link MethodSpec}). */
export function resolveMethod(name: string, entry: unknown): ResolvedMethod {
  if (typeof entry === 'function') return { handler: entry as Handler, input: undefined, output: undefined, idempotent: false, streaming: isStreamingHandler(entry) };
  const spec = entry as MethodSpec | null;
  if (typeof spec !== 'object' || spec === null || typeof spec.handler !== 'function') {
    throw new TypeError(`method ${name} must be a function or { handler, input?, output?, idempotent? }`);
  }
  for (const key of ['input', 'output'] as const) {
    if (spec[key] !== undefined && !isStandardSchema(spec[key])) {
      throw new TypeError(`method ${name}: ${key} must be a Standard Schema validator (with a "~standard" property)`);
    }
  }
  if (spec.idempotent !== undefined && typeof spec.idempotent !== 'boolean') {
    throw new TypeError(`method ${name}: idempotent must be a boolean, received ${String(spec.idempotent)}`);
  }
  return { handler: spec.handler, input: spec.input, output: spec.output, idempotent: spec.idempotent ?? false, streaming: isStreamingHandler(spec.handler) };
}

export { DEFAULT_CONCURRENCY, MAX_CONCURRENCY } from '../options/table.js';

export interface WorkerDefinition<M extends MethodMap = MethodMap> {
  /** Service name: the subject token and the queue group. */
  service: string;
  /** Version of this worker's code, reported in heartbeats. */
  version?: string;
  methods: M;
  /** Handlers in flight at most; beyond that requests get `OVERLOADED` at once. Default 64. */
  concurrency?: number;
  /** Optional check run before each heartbeat (a database ping, say); throw or return false when unhealthy. */
  healthCheck?: () => boolean | Promise<boolean>;
}

/**
 * Declares a worker. Validates names and options up front and returns the definition unchanged,
 * with its method types kept for `ApiOf`.
 *
 * @example
 * ```ts
 * export default defineWorker({
 *   service: 'math',
 *   methods: {
 *     add: ({ a, b }: { a: number; b: number }) => a + b,
 *   },
 * });
 * ```
 */
export function defineWorker<M extends MethodMap>(definition: WorkerDefinition<M>): WorkerDefinition<M> {
  if (typeof definition !== 'object' || definition === null) {
    throw new TypeError(`worker definition must be an object, received ${String(definition)}`);
  }
  assertName('service', definition.service);
  if (typeof definition.methods !== 'object' || definition.methods === null) {
    throw new TypeError(`methods must be an object of handlers, received ${String(definition.methods)}`);
  }
  const names = Object.keys(definition.methods);
  if (names.length === 0) throw new TypeError(`service ${definition.service} defines no methods`);
  for (const name of names) {
    assertName('method', name);
    resolveMethod(name, definition.methods[name]);
  }
  if (definition.concurrency !== undefined) checkNumberOption(WORKER_OPTIONS.concurrency, definition.concurrency);
  if (definition.healthCheck !== undefined && typeof definition.healthCheck !== 'function') {
    throw new TypeError('healthCheck must be a function');
  }
  return definition;
}
