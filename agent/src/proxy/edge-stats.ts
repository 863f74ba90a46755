/**
 * The golden metrics one agent aggregates for the control plane: per
 * (source service, destination service, outcome) the request count, a
 * latency histogram (the fixed layout of @weft/shared's latency-buckets.ts)
 * and body bytes in and out, since the last report.
 *
 * Counted once mesh-wide, at the caller's (outbound) agent: it knows the
 * destination service and sees every mesh error, including those no
 * destination agent ever saw (unknown service, no healthy endpoint,
 * circuit open, connect failures). The inbound side is not counted here, so
 * a request that crosses two agents is not counted twice.
 *
 * Hot path: the pipeline reaches an EdgeCell through ServiceMetrics'
 * per-source cache (one Map lookup); recording is a few array increments,
 * no allocation. Cells live as long as the agent (bounded by local callers
 * × destination services, as the Prometheus children are); drain() copies
 * the non-zero ones into report rows and zeroes them.
 */
import { LATENCY_BUCKETS, latencyBucket, OUTCOMES } from '@weft/shared';

const N = OUTCOMES.length;

/** One (source, destination) pair's counters since the last drain, per outcome. */
export class EdgeCell {
  readonly requests = new Float64Array(N);
  readonly bytesIn = new Float64Array(N);
  readonly bytesOut = new Float64Array(N);
  /** N rows of LATENCY_BUCKETS counts. */
  readonly latency = new Float64Array(N * LATENCY_BUCKETS);
  /** True when something was recorded since the last drain. */
  dirty = false;

  constructor(
    readonly source: string,
    readonly destination: string,
  ) {}

  record(outcome: number, durationMs: number, bytesIn: number, bytesOut: number): void {
    this.requests[outcome]!++;
    this.bytesIn[outcome]! += bytesIn;
    this.bytesOut[outcome]! += bytesOut;
    this.latency[outcome * LATENCY_BUCKETS + latencyBucket(durationMs)]!++;
    this.dirty = true;
  }
}

/** One row of a report: what one edge did with one outcome. */
export interface EdgeRow {
  source: string;
  destination: string;
  /** An index into OUTCOMES. */
  outcome: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  /** LATENCY_BUCKETS counts. */
  latency: number[];
}

export class EdgeStatsTable {
  private readonly cells = new Map<string, Map<string, EdgeCell>>();

  /** The cell of (source, destination), created on first use; callers cache it. */
  cell(source: string, destination: string): EdgeCell {
    let bySource = this.cells.get(destination);
    if (bySource === undefined) {
      bySource = new Map();
      this.cells.set(destination, bySource);
    }
    let c = bySource.get(source);
    if (c === undefined) {
      c = new EdgeCell(source, destination);
      bySource.set(source, c);
    }
    return c;
  }

  /** Everything recorded since the last drain, as rows (non-zero outcomes only); the cells start again from zero. */
  drain(): EdgeRow[] {
    const rows: EdgeRow[] = [];
    for (const bySource of this.cells.values()) {
      for (const c of bySource.values()) {
        if (!c.dirty) continue;
        for (let o = 0; o < N; o++) {
          const requests = c.requests[o]!;
          if (requests === 0) continue;
          const from = o * LATENCY_BUCKETS;
          rows.push({
            source: c.source,
            destination: c.destination,
            outcome: o,
            requests,
            bytesIn: c.bytesIn[o]!,
            bytesOut: c.bytesOut[o]!,
            latency: Array.from(c.latency.subarray(from, from + LATENCY_BUCKETS)),
          });
        }
        c.requests.fill(0);
        c.bytesIn.fill(0);
        c.bytesOut.fill(0);
        c.latency.fill(0);
        c.dirty = false;
      }
    }
    return rows;
  }

  /** Puts drained rows back (a report that could not be delivered is sent with the next one). */
  restore(rows: readonly EdgeRow[]): void {
    for (const r of rows) {
      const c = this.cell(r.source, r.destination);
      c.requests[r.outcome]! += r.requests;
      c.bytesIn[r.outcome]! += r.bytesIn;
      c.bytesOut[r.outcome]! += r.bytesOut;
      const from = r.outcome * LATENCY_BUCKETS;
      for (let i = 0; i < LATENCY_BUCKETS; i++) c.latency[from + i]! += r.latency[i] ?? 0;
      c.dirty = true;
    }
  }
}
