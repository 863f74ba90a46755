/** Small numeric helpers shared by the load generator and the report. */

/** Percentile (nearest rank) of an unsorted list of numbers; null when empty. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function summarize(values) {
  if (values.length === 0) return { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  let sum = 0;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    if (v > max) max = v;
  }
  return {
    count: values.length,
    p50: round(percentile(values, 50)),
    p90: round(percentile(values, 90)),
    p99: round(percentile(values, 99)),
    max: round(max),
    mean: round(sum / values.length),
  };
}

export function round(v, digits = 2) {
  if (v === null || v === undefined || !Number.isFinite(v)) return v ?? null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Deterministic PRNG (mulberry32) so a run's plan (subscriptions, churn targets) is reproducible. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn(i)` for i in [0, count) with at most `concurrency` at once; resolves when all settled. */
export async function pool(count, concurrency, fn) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
