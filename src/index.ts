/**
 * natsrpc's public API, what most applications need first. Clients, workers and supervisors are
 * made by the async functions `connect`, `startWorker` and `startSupervisor`; their classes are
 * exported as types only (their constructors are internal). Everything else is reached through
 * their options. Those functions load their runtime on first call (src/entry/), so importing
 * natsrpc stays cheap.
 */

// Serving: a definition, started as a worker.
export { defineWorker, method } from './worker/definition.js';
export type { Handler, MethodMap, MethodSpec, WorkerDefinition } from './worker/definition.js';
export type { HandlerContext } from './worker/context.js';
export { startWorker } from './entry/runtime.js';
export type { WorkerOptions } from './worker/start-worker.js';
export type { RpcWorker, WorkerState } from './worker/worker.js';
export type { WorkerStatsSnapshot } from './worker/stats.js';
export type { SupervisionOptions } from './worker/agent.js';

// Calling: a client, and a typed proxy from a worker definition (ApiOf).
export { connect } from './entry/runtime.js';
export type { RpcClient, ApiOf, CallOptions, ClientOptions, RpcStream, StreamOptions } from './client/client.js';
export type { ContractLike } from './client/contract-proxy.js';
export type { RetryPolicy, HedgePolicy, RetryBudgetOptions, LostWorkerPolicy } from './client/call-options.js';
export type { ConnectionOptions } from './connection/options.js';

// Errors: every failure is an RpcError with a stable string code.
export { RpcError, ErrorCode, isRpcError } from './protocol/errors.js';
export type { FrameworkErrorCode, RpcErrorCode, RpcErrorOptions } from './protocol/errors.js';

// Operating a fleet: the supervisor, its status view, and the dashboard.
export { startSupervisor, startDashboard } from './entry/fleet.js';
export type { Supervisor } from './supervisor/supervisor.js';
export type { SupervisorOptions } from './supervisor/start-supervisor.js';
export type { HealthPolicy } from './supervisor/policy.js';
export type { DeadlinePolicy, SupervisorEvent } from './protocol/supervisor-envelopes.js';
export type { StatusReply, ServiceStatus, WorkerStatus } from './supervisor/status.js';
export type { Dashboard, DashboardOptions } from './dashboard/dashboard.js';
export type { FleetView, WorkerView, ServiceView, EventView } from './dashboard/view.js';

// Defaults, as named constants with their units (docs/options.md lists every option).
export { DEFAULT_TIMEOUT_MS, DEFAULT_CONCURRENCY, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS } from './options/table.js';
export { DEFAULT_RETRY_POLICY } from './client/call-options.js';
export { DEFAULT_HEALTH_POLICY } from './supervisor/policy.js';

// ---------------------------------------------------------------------------------------------
// Extension points: where an application plugs in its own pieces.

/** Input/output schemas: any Standard Schema validator (zod, valibot, arktype...). */
export type { StandardSchemaV1, WireIssue } from './contract/standard-schema.js';
/**
 * Tracing without an OpenTelemetry SDK: `traceHeaders(ctx)` gives the W3C headers to forward by
 * hand. With an SDK registered before clients and workers are made, spans are automatic.
 */
export { traceHeaders, TRACEPARENT, TRACESTATE } from './tracing/trace-context.js';
export type { Headers } from './protocol/envelope.js';
/**
 * Signed control commands with your own keys or HSM: a supervisor's `signCommand` and a worker's
 * `verifyControl` take these functions; the nkey implementations below are the built-in ones.
 */
export type { CommandSigner } from './supervisor/commands.js';
export type { ControlVerifier } from './worker/control.js';
export type { ControlAuth, ControlSecurity } from './worker/control-auth.js';
export type { ControlCommand } from './protocol/control.js';
export { NkeyCommandSigner, NkeyCommandVerifier } from './security/signed-commands.js';
export type { CommandVerdict, SignableCommand } from './security/signed-commands.js';
/** Decoding limits of untrusted msgpack (a worker's `limits` option). */
export type { MsgpackLimits } from './protocol/msgpack-guard.js';
