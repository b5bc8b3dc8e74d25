/**
 * The typed proxy of a service. Its types come from the worker definition (`ApiOf`); built from
 * the definition object itself, it also knows which methods are idempotent and can validate
 * inputs and outputs with the same Standard Schema validators the worker uses.
 */
import { RpcError } from '../protocol/errors.js';
import { isStandardSchema, validateAsync, type StandardSchemaV1 } from '../contract/standard-schema.js';
import { isStreamingHandler } from '../contract/streaming.js';
import type { CallOptions } from './call-options.js';
import type { RpcStream, StreamOptions } from './stream-options.js';

/** Anything shaped like a worker definition: a service name and its methods. */
export interface ContractLike {
  service: string;
  methods: Record<string, unknown>;
}

type PayloadOf<M> = M extends { input: infer S extends StandardSchemaV1 }
  ? StandardSchemaV1.InferInput<S>
  : M extends { handler: (payload: infer P, ...rest: any[]) => unknown }
    ? P
    : M extends (payload: infer P, ...rest: any[]) => unknown
      ? P
      : never;

type ResultOf<M> = M extends { output: infer S extends StandardSchemaV1 }
  ? StandardSchemaV1.InferOutput<S>
  : M extends { handler: (...args: any[]) => infer R }
    ? Awaited<R>
    : M extends (...args: any[]) => infer R
      ? Awaited<R>
      : never;

/** The item type of a streaming method (its handler is an `async function*`), else never. */
type ItemOf<M> = M extends { handler: (...args: any[]) => AsyncIterable<infer T> }
  ? T
  : M extends (...args: any[]) => AsyncIterable<infer T>
    ? T
    : never;

/**
 * The client-side shape of a worker definition: each method becomes an async function whose
 * payload and result types come from the method's schemas, or else from its handler; a streaming
 * method becomes a function returning the stream of its items.
 */
export type ApiOf<D extends { methods: Record<string, unknown> }> = {
  [K in keyof D['methods']]: [ItemOf<D['methods'][K]>] extends [never]
    ? (payload: PayloadOf<D['methods'][K]>, options?: CallOptions) => Promise<ResultOf<D['methods'][K]>>
    : (payload: PayloadOf<D['methods'][K]>, options?: StreamOptions) => RpcStream<ItemOf<D['methods'][K]>>;
};

type Call = (target: string, payload: unknown, options: CallOptions | undefined) => Promise<unknown>;
type Stream = (target: string, payload: unknown, options: StreamOptions | undefined) => RpcStream<unknown>;

interface MethodContract {
  input?: StandardSchemaV1;
  output?: StandardSchemaV1;
  idempotent: boolean;
  streaming: boolean;
}

function contractOf(contract: ContractLike | undefined, method: string): MethodContract {
  const entry = contract !== undefined && Object.hasOwn(contract.methods, method) ? contract.methods[method] : undefined;
  if (typeof entry !== 'object' || entry === null) return { idempotent: false, streaming: isStreamingHandler(entry) };
  const e = entry as { input?: unknown; output?: unknown; idempotent?: unknown; handler?: unknown };
  return {
    input: isStandardSchema(e.input) ? e.input : undefined,
    output: isStandardSchema(e.output) ? e.output : undefined,
    idempotent: e.idempotent === true,
    streaming: isStreamingHandler(e.handler),
  };
}

/**
 * The proxy object. Methods of a definition that stream go to `stream` (items are not validated on
 * this side); a proxy built from a service name only calls (use `client.stream` for its streams).
 */
export function serviceProxy(service: string, contract: ContractLike | undefined, validate: boolean, call: Call, stream: Stream): object {
  const methods = new Map<string, (payload?: unknown, options?: CallOptions) => unknown>();
  const make = (prop: string) => {
    const target = `${service}.${prop}`;
    const c = contractOf(contract, prop);
    if (c.streaming) return (payload?: unknown, options?: StreamOptions) => stream(target, payload, options);
    const withDefaults = (options: CallOptions | undefined): CallOptions | undefined =>
      c.idempotent && options?.idempotent === undefined ? { ...options, idempotent: true } : options;
    if (!validate || (c.input === undefined && c.output === undefined)) {
      return (payload?: unknown, options?: CallOptions) => call(target, payload, withDefaults(options));
    }
    return async (payload?: unknown, options?: CallOptions) => {
      if (c.input !== undefined) {
        const { issues } = await validateAsync(c.input, payload).catch((cause: unknown) => {
          throw new RpcError('BAD_REQUEST', `the input validator of ${target} failed: ${String((cause as Error)?.message ?? cause)} (not sent)`, { cause });
        });
        if (issues !== null) {
          throw new RpcError('BAD_REQUEST', `invalid input for ${target}: ${issues[0]?.message ?? 'rejected'} (not sent)`, { details: { issues } });
        }
      }
      const result = await call(target, payload, withDefaults(options));
      if (c.output === undefined) return result;
      const checked = await validateAsync(c.output, result).catch((cause: unknown) => {
        throw new RpcError('INTERNAL', `the output validator of ${target} failed: ${String((cause as Error)?.message ?? cause)}`, { cause, maybeProcessed: true });
      });
      if (checked.issues !== null) {
        throw new RpcError('INTERNAL', `the reply of ${target} does not match its output schema`, { details: { issues: checked.issues }, maybeProcessed: true });
      }
      return checked.value;
    };
  };
  return new Proxy(
    {},
    {
      get: (_obj, prop) => {
        if (typeof prop !== 'string' || prop === 'then') return undefined;
        let fn = methods.get(prop);
        if (fn === undefined) {
          fn = make(prop);
          methods.set(prop, fn);
        }
        return fn;
      },
    },
  );
}
