/**
 * The Standard Schema interface (https://standardschema.dev), written out here so that natsrpc
 * depends on no validator library: any schema with a `~standard` property (zod 3.24+, valibot,
 * arktype...) validates method inputs and outputs.
 */

/** The Standard Schema v1 interface. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace StandardSchemaV1 {
  interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  type Result<Output> = SuccessResult<Output> | FailureResult;
  interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  interface PathSegment {
    readonly key: PropertyKey;
  }
  interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  type InferInput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['input'];
  type InferOutput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['output'];
}

/** A validation issue as it travels in `error.details.issues`: plain, serialisable data. */
export interface WireIssue {
  message: string;
  path?: (string | number)[];
}

/** At most this many issues travel in one error, so a huge invalid input cannot make a huge reply. */
export const MAX_WIRE_ISSUES = 20;

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const std = (value as { '~standard'?: { validate?: unknown } } | null | undefined)?.['~standard'];
  return typeof std === 'object' && std !== null && typeof std.validate === 'function';
}

/** Turns a validator's issues into plain data for the wire (symbols as strings, bounded). */
export function wireIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): WireIssue[] {
  return issues.slice(0, MAX_WIRE_ISSUES).map((issue) => {
    const out: WireIssue = { message: String(issue.message).slice(0, 1_000) };
    if (issue.path !== undefined && issue.path.length > 0) {
      out.path = issue.path.slice(0, 32).map((seg) => {
        const key = typeof seg === 'object' && seg !== null ? (seg as StandardSchemaV1.PathSegment).key : seg;
        return typeof key === 'number' ? key : String(key);
      });
    }
    return out;
  });
}

/**
 * Validates `value`; calls `done(value, null)` with the parsed value or `done(undefined, issues)`.
 * Synchronous validators answer synchronously, so the common case adds no promise.
 */
export function validateWith(
  schema: StandardSchemaV1,
  value: unknown,
  done: (parsed: unknown, issues: WireIssue[] | null, err?: unknown) => void,
): void {
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
  try {
    result = schema['~standard'].validate(value);
  } catch (err) {
    done(undefined, null, err);
    return;
  }
  const settle = (r: StandardSchemaV1.Result<unknown>) => {
    if (r.issues !== undefined) done(undefined, wireIssues(r.issues));
    else done(r.value, null);
  };
  if (result instanceof Promise) result.then(settle, (err: unknown) => done(undefined, null, err));
  else settle(result);
}

/** Promise form of {@link validateWith}, for the client side. */
export function validateAsync(schema: StandardSchemaV1, value: unknown): Promise<{ value: unknown; issues: WireIssue[] | null }> {
  return new Promise((resolve, reject) => {
    validateWith(schema, value, (parsed, issues, err) => (err !== undefined ? reject(err) : resolve({ value: parsed, issues })));
  });
}
