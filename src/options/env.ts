/**
 * The one module that reads the process environment. Everything else asks for an {@link Env}
 * (defaulting to this process's) so that tests and embedders can pass their own.
 */

/** Environment variables by name, as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** This process's environment. */
export function processEnv(): Env {
  return process.env;
}

/** One variable of `env`; an empty value counts as unset. */
export function readEnv(name: string, env: Env = processEnv()): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}
