/**
 * The public API is what src/index.ts exports, and it stays small on purpose: these tests list it,
 * so a name added to (or dropped from) the package's surface is a visible change of this file,
 * never an accident. The packed package is checked against the same names in
 * test/package/consumer.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { exportedNames } from './helpers/module-syntax.js';
import { ROOT } from './helpers/processes.js';

/** What exists at run time: functions, classes, error codes, named defaults. */
const VALUES = [
  'DEFAULT_CONCURRENCY', 'DEFAULT_DRAIN_TIMEOUT_MS', 'DEFAULT_HEALTH_POLICY', 'DEFAULT_HEARTBEAT_INTERVAL_MS', 'DEFAULT_RETRY_POLICY', 'DEFAULT_TIMEOUT_MS',
  'ErrorCode', 'NkeyCommandSigner', 'NkeyCommandVerifier', 'RpcError', 'TRACEPARENT', 'TRACESTATE',
  'connect', 'defineWorker', 'isRpcError', 'method', 'startDashboard', 'startSupervisor', 'startWorker', 'traceHeaders',
];

/** Types only: options, results, the classes whose constructors are internal, extension points. */
const TYPES = [
  'ApiOf', 'CallOptions', 'ClientOptions', 'CommandSigner', 'CommandVerdict', 'ConnectionOptions', 'ContractLike', 'ControlAuth', 'ControlCommand',
  'ControlSecurity', 'ControlVerifier', 'Dashboard', 'DashboardOptions', 'DeadlinePolicy', 'EventView', 'FleetView', 'FrameworkErrorCode', 'Handler',
  'HandlerContext', 'Headers', 'HealthPolicy', 'HedgePolicy', 'LostWorkerPolicy', 'MethodMap', 'MethodSpec', 'MsgpackLimits', 'RetryBudgetOptions',
  'RetryPolicy', 'RpcClient', 'RpcErrorCode', 'RpcErrorOptions', 'RpcStream', 'RpcWorker', 'ServiceStatus', 'ServiceView', 'SignableCommand',
  'StandardSchemaV1', 'StatusReply', 'StreamOptions', 'SupervisionOptions', 'Supervisor', 'SupervisorEvent', 'SupervisorOptions', 'WireIssue',
  'WorkerDefinition', 'WorkerOptions', 'WorkerState', 'WorkerStatsSnapshot', 'WorkerStatus', 'WorkerView',
];

test('src/index.ts exports exactly the listed values and types, each by name', () => {
  const names = exportedNames(join(ROOT, 'src', 'index.ts'));
  assert.deepEqual(names.hidden, [], 'no export * or default export: every public name is spelled out');
  assert.deepEqual(names.values, [...VALUES].sort());
  assert.deepEqual(names.types, [...TYPES].sort());
});

test('importing the index gives exactly the listed values at run time', async () => {
  const index = (await import('../src/index.js')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(index).sort(), [...VALUES].sort());
  for (const name of VALUES) assert.notEqual(index[name], undefined, name);
});
