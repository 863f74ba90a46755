/** Golden-metrics lookups over /v1/stats; "no data" is an empty or missing answer. */
import type { Resource } from './live.js';
import type { GoldenMetrics, StatsResponse } from './types.js';

export const STATS_PATH = '/v1/stats?window=60s';

export function hasStats(r: Resource<StatsResponse>): boolean {
  return (r.data?.services.length ?? 0) > 0 || (r.data?.edges.length ?? 0) > 0;
}

export function serviceStats(r: Resource<StatsResponse>, service: string): GoldenMetrics | undefined {
  return r.data?.services.find((s) => s.service === service);
}
