import { ValidationError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as "250ms", "5s", "1.5m" or "2h" into milliseconds.
 * A string needs its unit (a flag `--request-timeout 10` must not silently mean
 * 10 ms); only "0" may go without one, since it means the same in every unit.
 * A JSON number is milliseconds (the typed form of the admin API).
 * `field` names the input in errors.
 */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value !== 'string') throw new ValidationError(field, 'must be a duration such as "5s" or "250ms"');
  const text = value.trim();
  if (text === '0') return 0;
  if (/^\d+(?:\.\d+)?$/.test(text))
    throw new ValidationError(field, `duration ${JSON.stringify(value)} needs a unit: ms, s, m or h (e.g. "${text}s" or "${text}ms")`);
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) throw new ValidationError(field, `invalid duration ${JSON.stringify(value)} (use e.g. "5s", "250ms")`);
  return Math.round(Number(m[1]) * UNITS[m[2]]);
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
