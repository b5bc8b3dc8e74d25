/**
 * Dependencies loaded when first used rather than when natsrpc is imported, so `import('natsrpc')`
 * costs little more than `import('nats')` and a process holds only what it uses: the logger when
 * a client, worker or supervisor is made, OpenTelemetry when one is, Prometheus only with a
 * metrics endpoint. All three are CommonJS packages, so a synchronous `require` loads each at the
 * moment it is needed, resolved from natsrpc's own location (its declared dependencies).
 * Import their types with `import type`; take their values from here.
 */
import { createRequire } from 'node:module';

type Pino = typeof import('pino');
type OpenTelemetryApi = typeof import('@opentelemetry/api');
type PromClient = typeof import('prom-client');

const require = createRequire(import.meta.url);

let pino: Pino | undefined;
let otel: OpenTelemetryApi | undefined;
let prom: PromClient | undefined;

export function pinoModule(): Pino {
  return (pino ??= require('pino') as Pino);
}

export function openTelemetryApi(): OpenTelemetryApi {
  return (otel ??= require('@opentelemetry/api') as OpenTelemetryApi);
}

export function promClient(): PromClient {
  return (prom ??= require('prom-client') as PromClient);
}
