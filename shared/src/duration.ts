import { ValidationError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as "250ms", "5s", "1.5m" or "2h" into milliseconds.
 * A bare number is taken as milliseconds. `field` names the input in errors.
 */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value !== 'string') throw new ValidationError(field, 'must be a duration such as "5s" or "250ms"');
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new ValidationError(field, `invalid duration ${JSON.stringify(value)} (use e.g. "5s", "250ms")`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']);
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
