import type { Ctx, Profile } from '../lib/context.js';

export interface ScenarioResult {
  id: number;
  title: string;
  /** Table rows: column name to a printable value. */
  rows: Array<Record<string, string | number>>;
  notes: string[];
  /** Everything measured, for the JSON results. */
  data: unknown;
}

export interface Scenario {
  id: number;
  title: string;
  steps(profile: Profile): number;
  run(ctx: Ctx): Promise<ScenarioResult>;
}

export const ratio = (a: number, b: number): string => (b > 0 && Number.isFinite(a / b) ? (a / b).toFixed(2) : 'n/a');
export const us = (v: number): string => (v >= 10_000 ? `${(v / 1000).toFixed(1)} ms` : `${Math.round(v)} µs`);
export const int = (v: number): string => Math.round(v).toLocaleString('en-US');
export const size = (b: number): string => (b >= 1024 ? `${Math.round(b / 1024)} KB` : `${b} B`);
