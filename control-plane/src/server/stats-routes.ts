/**
 * The golden metrics on the HTTP read API (registry/stats-window.ts holds
 * them; the read-token rules are http-api.ts'):
 *
 *   GET /v1/stats?window=60s
 *     {"windowSeconds":60,"resolutionSeconds":10,"generatedAtMs":…,
 *      "services":[{"service","requestsPerSecond","successRate","p50Ms","p99Ms","bytesInPerSecond","bytesOutPerSecond"}],
 *      "edges":[{"source","destination", the same numbers}]}
 *   GET /v1/stats/series?service=orders[&source=web]&window=15m
 *     {"resolutionSeconds":10,"points":[{"tMs","requestsPerSecond","successRate","p50Ms","p99Ms"}]}
 *
 * `window` is a whole number of seconds or minutes ("60s", "15m"), a
 * multiple of 10 s, at most 15m; default 60s for /v1/stats, 15m for a
 * series. Bad parameters are a 400 naming the parameter.
 */
import { ValidationError } from '@weft/shared';
import { MAX_WINDOW_MS, RESOLUTION_MS, type StatsWindow } from '../registry/stats-window.js';

/** "60s" | "15m" -> ms; a multiple of the resolution, 10s..15m. */
export function parseWindow(value: string | null, fallbackMs: number): number {
  if (value === null || value === '') return fallbackMs;
  const m = /^(\d{1,6})(s|m)$/.exec(value.trim());
  if (!m) throw new ValidationError('window', `${JSON.stringify(value)} is not a duration like 60s or 15m`);
  const ms = Number(m[1]) * (m[2] === 'm' ? 60_000 : 1_000);
  if (ms < RESOLUTION_MS || ms > MAX_WINDOW_MS)
    throw new ValidationError('window', `must be from ${RESOLUTION_MS / 1000}s to ${MAX_WINDOW_MS / 60_000}m (the window kept in memory)`);
  if (ms % RESOLUTION_MS !== 0) throw new ValidationError('window', `must be a multiple of ${RESOLUTION_MS / 1000}s (the resolution)`);
  return ms;
}

function nameParam(query: URLSearchParams, name: string, required: boolean): string | undefined {
  const v = query.get(name);
  if (v === null || v === '') {
    if (required) throw new ValidationError(name, 'is required (a service name)');
    return undefined;
  }
  if (v.length > 253) throw new ValidationError(name, 'is longer than 253 characters');
  return v;
}

export function statsRoutes(stats: StatsWindow): Record<string, (query: URLSearchParams) => unknown> {
  return {
    '/v1/stats': (query) => stats.snapshot(parseWindow(query.get('window'), 60_000)),
    '/v1/stats/series': (query) => {
      const service = nameParam(query, 'service', true)!;
      const source = nameParam(query, 'source', false);
      return stats.series(parseWindow(query.get('window'), MAX_WINDOW_MS), service, source);
    },
  };
}
