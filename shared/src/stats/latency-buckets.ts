/**
 * The one latency bucket layout of the golden metrics (agent aggregation,
 * the Telemetry report, the control plane's window). Fixed, so histograms
 * from any agent and any 10 s slot merge by adding counts bucket by bucket;
 * p50/p99 are computed only from merged counts (never by averaging
 * percentiles). A report names the layout (LATENCY_LAYOUT); the control
 * plane refuses another, so a future layout change cannot mix silently.
 *
 * Bucket i counts durations d with UPPER[i-1] < d <= UPPER[i] (ms); the last
 * bucket is everything above the last bound. A quantile is interpolated
 * linearly inside the bucket it falls in (as Prometheus'
 * histogram_quantile), and is the last bound for the overflow bucket.
 */

/** Upper bounds in ms; one more bucket (overflow) follows the last. */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 30_000,
];

/** The number of buckets, overflow included. */
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** The layout's name on the wire (StatsReport.latency_layout). */
export const LATENCY_LAYOUT = 'weft-ms-v1';

/** The bucket of a duration in ms (binary search over 24 bounds: 5 comparisons). */
export function latencyBucket(ms: number): number {
  let lo = 0;
  let hi = LATENCY_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms <= LATENCY_BOUNDS_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Adds `from` into `into` bucket by bucket (same layout). */
export function mergeBuckets(into: Float64Array | number[], from: ArrayLike<number>): void {
  for (let i = 0; i < LATENCY_BUCKETS; i++) into[i]! += from[i] ?? 0;
}

/** The q-quantile (0..1) in ms of a histogram, or null when it counts nothing. */
export function latencyQuantile(buckets: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) total += buckets[i] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) {
    const n = buckets[i] ?? 0;
    if (n > 0 && seen + n >= rank) {
      if (i === LATENCY_BOUNDS_MS.length) return LATENCY_BOUNDS_MS[i - 1]!;
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const upper = LATENCY_BOUNDS_MS[i]!;
      return lower + ((upper - lower) * (rank - seen)) / n;
    }
    seen += n;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}
