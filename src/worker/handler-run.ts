/**
 * How an admitted request's handler runs: a request body sent in chunks is pulled whole first, the
 * input is checked against the method's schema, the handler is called (inside a span when tracing
 * is on), a stream is driven to its end, and a result is checked against the output schema. Every
 * way a run ends goes to the one `finish` given at construction: a call allocates nothing here
 * beyond what its handler's promise and schemas need.
 */
import { RpcError } from '../protocol/errors.js';
import type { RequestEnvelope, StreamWindow } from '../protocol/envelope.js';
import { validateWith } from '../contract/standard-schema.js';
import type { Logger } from '../logging/logger.js';
import type { WorkerTracing } from '../tracing/call-tracing.js';
import type { CallContext } from './context.js';
import type { ResolvedMethod } from './definition.js';
import type { WorkerStreams } from './streams.js';
import type { WorkerBodies } from './bodies.js';

/** Where a run ends: `result` when it succeeded, `err` when `failed`. */
export type FinishCall = (ctx: CallContext, reply: string, result: unknown, err: unknown, failed: boolean) => void;

export class HandlerRunner {
  readonly #service: string;
  /** Spans around handlers, or null when no OpenTelemetry SDK was registered when the worker started. */
  readonly #tracing: WorkerTracing | null;
  /** Server streams, when a method streams (its handler is an `async function*`). */
  readonly #streams: WorkerStreams | null;
  /** Request bodies beyond the broker's max_payload, in chunks. */
  readonly #bodies: WorkerBodies;
  readonly #log: Logger;
  readonly #finish: FinishCall;

  constructor(service: string, tracing: WorkerTracing | null, streams: WorkerStreams | null, bodies: WorkerBodies, log: Logger, finish: FinishCall) {
    this.#service = service;
    this.#tracing = tracing;
    this.#streams = streams;
    this.#bodies = bodies;
    this.#log = log;
    this.#finish = finish;
  }

  /** Runs the handler; a request body is pulled in chunks first, and the handler gets it once whole and verified. */
  begin(entry: ResolvedMethod, req: RequestEnvelope, ctx: CallContext, reply: string): void {
    const body = req.body;
    if (body == null) {
      this.#validateAndRun(entry, req.payload, ctx, reply, req.stream);
      return;
    }
    this.#bodies.receive(ctx, reply, body, (payload) => this.#validateAndRun(entry, payload, ctx, reply, req.stream), (err) => this.#finish(ctx, reply, undefined, err, true));
  }

  #validateAndRun(entry: ResolvedMethod, payload: unknown, ctx: CallContext, reply: string, window?: StreamWindow): void {
    if (entry.input === undefined) {
      this.#run(entry, payload, ctx, reply, window);
      return;
    }
    validateWith(entry.input, payload, (parsed, issues, err) => {
      if (issues !== null) {
        const bad = new RpcError('BAD_REQUEST', `invalid input for ${this.#service}.${ctx.method}: ${issues[0]?.message ?? 'rejected'}`, { details: { issues } });
        this.#finish(ctx, reply, undefined, bad, true);
      } else if (err !== undefined) this.#finish(ctx, reply, undefined, err, true);
      else this.#run(entry, parsed, ctx, reply, window);
    });
  }

  #run(entry: ResolvedMethod, payload: unknown, ctx: CallContext, reply: string, window?: StreamWindow): void {
    let result: unknown;
    try {
      result = this.#tracing === null ? entry.handler(payload, ctx) : this.#tracing.run(ctx, () => entry.handler(payload, ctx));
    } catch (e) {
      this.#finish(ctx, reply, undefined, e, true);
      return;
    }
    if (window !== undefined) {
      // A stream's end is its reply: the item count, or the error it ended with.
      this.#streams!.run(result as AsyncGenerator<unknown>, ctx, reply, window, (count, err, to) => this.#finish(ctx, to, count, err, err !== undefined));
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(
        (value) => this.#complete(entry, ctx, reply, value),
        (e: unknown) => this.#finish(ctx, reply, undefined, e ?? new Error('handler rejected with no reason'), true),
      );
    } else {
      this.#complete(entry, ctx, reply, result);
    }
  }

  #complete(entry: ResolvedMethod, ctx: CallContext, reply: string, result: unknown): void {
    if (entry.output === undefined) {
      this.#finish(ctx, reply, result, undefined, false);
      return;
    }
    validateWith(entry.output, result, (parsed, issues, err) => {
      if (issues === null && err === undefined) {
        this.#finish(ctx, reply, parsed, undefined, false);
        return;
      }
      // A result that breaks the contract is a bug in the handler: INTERNAL, details in the log.
      this.#log.error({ reqId: ctx.requestId, method: ctx.method, issues, err }, 'result does not match the output schema');
      this.#finish(ctx, reply, undefined, new Error('result does not match the output schema'), true);
    });
  }
}
