/**
 * The fleet's entry points for index.ts: the supervisor and the dashboard load their modules
 * (and the HTTP, metrics and static-file code they bring) on the first call, so an application
 * that only calls services or serves them pays nothing for them when it imports natsrpc.
 */
import type { Supervisor } from '../supervisor/supervisor.js';
import type { SupervisorOptions } from '../supervisor/start-supervisor.js';
import type { Dashboard, DashboardOptions } from '../dashboard/dashboard.js';

/**
 * Starts a supervisor and resolves once it listens.
 *
 * @example
 * ```ts
 * const sup = await startSupervisor({ servers: 'nats://127.0.0.1:4222', policy: { maxDrainPercent: 30 } });
 * process.on('SIGTERM', () => sup.close());
 * ```
 */
export async function startSupervisor(options?: SupervisorOptions): Promise<Supervisor> {
  return (await import('../supervisor/start-supervisor.js')).startSupervisor(options);
}

/** Starts the fleet dashboard (see DashboardOptions) and resolves once it listens. */
export async function startDashboard(options?: DashboardOptions): Promise<Dashboard> {
  return (await import('../dashboard/dashboard.js')).startDashboard(options);
}
