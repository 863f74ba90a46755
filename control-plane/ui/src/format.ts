/** How numbers and times read in the dashboard; "–" for what is unknown. */

export const NONE = '–';

export function rate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined) return NONE;
  return perSecond >= 100 ? `${Math.round(perSecond)}/s` : `${perSecond.toFixed(1)}/s`;
}

export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return NONE;
  return `${(ratio * 100).toFixed(ratio >= 0.999 && ratio < 1 ? 2 : 1)}%`;
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return NONE;
  return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
}

/** "in 3m 20s" / "5s ago" relative to now. */
export function relative(atMs: number, nowMs = Date.now()): string {
  const d = Math.round((atMs - nowMs) / 1000);
  const abs = Math.abs(d);
  const text =
    abs < 60
      ? `${abs}s`
      : abs < 3600
        ? `${Math.floor(abs / 60)}m ${abs % 60}s`
        : abs < 86400
          ? `${Math.floor(abs / 3600)}h ${Math.floor((abs % 3600) / 60)}m`
          : `${Math.floor(abs / 86400)}d ${Math.floor((abs % 86400) / 3600)}h`;
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

export function dateTime(atMs: number): string {
  return new Date(atMs)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}
