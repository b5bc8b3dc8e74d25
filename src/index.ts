export { connect, RpcClient, DEFAULT_TIMEOUT_MS } from './client/client.js';
export type { ApiOf, CallOptions, ClientOptions, RpcStream, StreamOptions } from './client/client.js';
export type { ContractLike } from './client/contract-proxy.js';
export {
  DEFAULT_RETRY_POLICY,
  DEFAULT_RETRY_BUDGET_RATIO,
  DEFAULT_RETRY_BUDGET_BURST,
  DEFAULT_HEDGE_MAX_ATTEMPTS,
  DEFAULT_ACK_TIMEOUT_MS,
  DEFAULT_PROBE_AFTER_MS,
} from './client/call-options.js';
export type { RetryPolicy, HedgePolicy, RetryBudgetOptions, LostWorkerPolicy } from './client/call-options.js';
export { RetryBudget } from './client/retry-budget.js';
export { QUERY_OF_DEATH_LOSSES } from './client/call-engine.js';
export { defineWorker, method, DEFAULT_CONCURRENCY } from './worker/definition.js';
export type { Handler, MethodMap, MethodSpec, WorkerDefinition } from './worker/definition.js';
export { DEFAULT_PROPAGATION_MARGIN_MS, PROPAGATED_HEADERS } from './worker/outbound.js';
export type { StandardSchemaV1, WireIssue } from './contract/standard-schema.js';
export { startWorker } from './worker/start-worker.js';
export type { WorkerOptions } from './worker/start-worker.js';
export { RpcWorker, DEFAULT_DRAIN_TIMEOUT_MS } from './worker/worker.js';
export type { WorkerState } from './worker/worker.js';
export type { WorkerStatsSnapshot } from './worker/stats.js';
export { CallContext } from './worker/context.js';
export { RpcError, ErrorCode, isRpcError } from './protocol/errors.js';
export type { FrameworkErrorCode, RpcErrorCode, RpcErrorOptions } from './protocol/errors.js';
export { PROTOCOL_VERSION } from './protocol/envelope.js';
export type { Headers, RequestEnvelope, ReplyEnvelope, WireError, AckEnvelope, CancelEnvelope } from './protocol/envelope.js';
export type { MsgpackLimits } from './protocol/msgpack-guard.js';
export type { ConnectionOptions } from './connection/options.js';
export { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_WATCHDOG_EXIT_MS } from './worker/agent.js';
export type { SupervisionOptions } from './worker/agent.js';
export type { ControlVerifier } from './worker/control.js';
export { startSupervisor, Supervisor, DEFAULT_SUPERVISOR_INTERVAL_MS } from './supervisor/supervisor.js';
export type { SupervisorOptions } from './supervisor/supervisor.js';
export { DEFAULT_HEALTH_POLICY, evaluateHealth, resolvePolicy } from './supervisor/policy.js';
export type { HealthPolicy, HealthVerdict } from './supervisor/policy.js';
export type { StatusReply, ServiceStatus, WorkerStatus } from './supervisor/status.js';
export type { CommandSigner } from './supervisor/commands.js';
export type { WorkerHeartbeat } from './protocol/heartbeat.js';
export type { ControlCommand, ControlAck } from './protocol/control.js';
export type { DeadlinePolicy, SupervisorEvent, SupervisorHeartbeat } from './protocol/supervisor-envelopes.js';
export { traceHeaders, TRACEPARENT, TRACESTATE } from './tracing/trace-context.js';
export { NkeyCommandSigner, NkeyCommandVerifier, ReplayGuard, DEFAULT_COMMAND_MAX_AGE_MS } from './security/signed-commands.js';
export type { CommandVerdict, SignableCommand } from './security/signed-commands.js';
export { kickConnection } from './security/kick-connection.js';
export { FleetMetrics } from './metrics/fleet-metrics.js';
export { startDashboard, DEFAULT_DASHBOARD_PORT, DEFAULT_DASHBOARD_HOST } from './dashboard/dashboard.js';
export type { Dashboard, DashboardOptions } from './dashboard/dashboard.js';
export type { FleetView, WorkerView, ServiceView, EventView } from './dashboard/view.js';
export type { WorkerMetricsInput } from './metrics/fleet-metrics.js';
