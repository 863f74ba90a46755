/**
 * The mesh's golden metrics, in memory: a rolling window of 15 minutes at
 * 10 s resolution (90 slots in a ring), merged from every agent's
 * Telemetry reports. No database: after a restart the window starts empty
 * and fills again within one report interval. With several control-plane
 * replicas each holds what its own agents reported (docs/metrics.md).
 *
 * A report is filed under the slot of its arrival (the control plane's
 * clock). Per slot and edge (source, destination) the window keeps request
 * counts per outcome, body bytes and one latency histogram of the fixed
 * layout, so merging is addition and p50/p99 come from merged buckets.
 *
 * Queries (all rates per second over the asked window):
 *   requestsPerSecond  every request of the window's slots / windowSeconds
 *                      (the newest slot is still filling: it counts what
 *                      arrived so far)
 *   successRate        success / (success + app_error + mesh_error);
 *                      null with none of those (cancelled requests are left out)
 *   p50Ms, p99Ms       from the merged histogram of all requests; null with none
 *   bytesIn/OutPerSecond  request / response body bytes
 *
 * Memory is bounded: at most MAX_EDGES_PER_SLOT edges per slot (a report
 * beyond that is filed without its new edges, and counted as dropped).
 */

import type { GoldenMetrics, StatsSnapshot } from '@weft/shared';
import { LATENCY_BUCKETS, latencyQuantile, OUTCOMES, Outcome } from '@weft/shared';

export const RESOLUTION_MS = 10_000;
export const WINDOW_SLOTS = 90;
export const MAX_WINDOW_MS = RESOLUTION_MS * WINDOW_SLOTS;
export const MAX_EDGES_PER_SLOT = 10_000;

/** One row of a report, validated (server/telemetry-service.ts). */
export interface EdgeSample {
  source: string;
  destination: string;
  /** Index into OUTCOMES. */
  outcome: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  /** LATENCY_BUCKETS counts (shorter: trailing zeros). */
  latency: readonly number[];
}

class Totals {
  readonly byOutcome = new Float64Array(OUTCOMES.length);
  bytesIn = 0;
  bytesOut = 0;
  readonly latency = new Float64Array(LATENCY_BUCKETS);

  addSample(s: EdgeSample): void {
    this.byOutcome[s.outcome]! += s.requests;
    this.bytesIn += s.bytesIn;
    this.bytesOut += s.bytesOut;
    for (let i = 0; i < s.latency.length && i < LATENCY_BUCKETS; i++) this.latency[i]! += s.latency[i]!;
  }

  addTotals(t: Totals): void {
    for (let i = 0; i < OUTCOMES.length; i++) this.byOutcome[i]! += t.byOutcome[i]!;
    this.bytesIn += t.bytesIn;
    this.bytesOut += t.bytesOut;
    for (let i = 0; i < LATENCY_BUCKETS; i++) this.latency[i]! += t.latency[i]!;
  }

  requests(): number {
    let n = 0;
    for (const v of this.byOutcome) n += v;
    return n;
  }
}

class EdgeTotals extends Totals {
  constructor(
    readonly source: string,
    readonly destination: string,
  ) {
    super();
  }
}

interface Slot {
  /** The slot's number (start time / RESOLUTION_MS); a ring entry with another number is stale. */
  no: number;
  /** By destination, then source. */
  edges: Map<string, Map<string, EdgeTotals>>;
  size: number;
}

export interface SeriesPoint {
  tMs: number;
  requestsPerSecond: number;
  successRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}

function getOrAdd<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

const round = (v: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

function metricsOf(t: Totals, seconds: number): GoldenMetrics {
  const o = t.byOutcome;
  const judged = o[Outcome.success]! + o[Outcome.appError]! + o[Outcome.meshError]!;
  const p50 = latencyQuantile(t.latency, 0.5);
  const p99 = latencyQuantile(t.latency, 0.99);
  return {
    requestsPerSecond: round(t.requests() / seconds, 6),
    successRate: judged === 0 ? null : round(o[Outcome.success]! / judged, 6),
    p50Ms: p50 === null ? null : round(p50, 3),
    p99Ms: p99 === null ? null : round(p99, 3),
    bytesInPerSecond: round(t.bytesIn / seconds, 3),
    bytesOutPerSecond: round(t.bytesOut / seconds, 3),
  };
}

export class StatsWindow {
  private readonly ring: (Slot | undefined)[] = new Array(WINDOW_SLOTS);
  /** Samples not filed because their slot was full (MAX_EDGES_PER_SLOT). */
  dropped = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Files one report's rows under the current slot. */
  add(samples: readonly EdgeSample[]): void {
    const slot = this.slotAt(Math.floor(this.now() / RESOLUTION_MS));
    for (const s of samples) {
      let bySource = slot.edges.get(s.destination);
      let e = bySource?.get(s.source);
      if (e === undefined) {
        if (slot.size >= MAX_EDGES_PER_SLOT) {
          this.dropped++;
          continue;
        }
        if (bySource === undefined) {
          bySource = new Map();
          slot.edges.set(s.destination, bySource);
        }
        e = new EdgeTotals(s.source, s.destination);
        bySource.set(s.source, e);
        slot.size++;
      }
      e.addSample(s);
    }
  }

  /** Per service and per edge over the last `windowMs` (a multiple of RESOLUTION_MS, at most MAX_WINDOW_MS). */
  snapshot(windowMs: number): StatsSnapshot {
    const now = this.now();
    const services = new Map<string, Totals>();
    const edges = new Map<string, Map<string, EdgeTotals>>();
    for (const slot of this.slotsOf(windowMs, now)) {
      if (slot === undefined) continue;
      for (const [destination, bySource] of slot.edges) {
        const svc = getOrAdd(services, destination, () => new Totals());
        const out = getOrAdd(edges, destination, () => new Map<string, EdgeTotals>());
        for (const [source, e] of bySource) {
          svc.addTotals(e);
          getOrAdd(out, source, () => new EdgeTotals(source, destination)).addTotals(e);
        }
      }
    }
    const seconds = windowMs / 1000;
    const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return {
      windowSeconds: seconds,
      resolutionSeconds: RESOLUTION_MS / 1000,
      generatedAtMs: now,
      services: [...services].sort(([a], [b]) => byName(a, b)).map(([service, t]) => ({ service, ...metricsOf(t, seconds) })),
      edges: [...edges.values()]
        .flatMap((m) => [...m.values()])
        .sort((a, b) => byName(a.destination, b.destination) || byName(a.source, b.source))
        .map((e) => ({ source: e.source, destination: e.destination, ...metricsOf(e, seconds) })),
    };
  }

  /** One point per slot of the last `windowMs`, oldest first: requests to `service` (from `source` only, when given). */
  series(windowMs: number, service: string, source?: string): { resolutionSeconds: number; points: SeriesPoint[] } {
    const now = this.now();
    const first = Math.floor(now / RESOLUTION_MS) - windowMs / RESOLUTION_MS + 1;
    const points = this.slotsOf(windowMs, now).map((slot, i) => {
      const t = new Totals();
      const bySource = slot?.edges.get(service);
      if (bySource !== undefined) {
        if (source === undefined) for (const e of bySource.values()) t.addTotals(e);
        else {
          const e = bySource.get(source);
          if (e !== undefined) t.addTotals(e);
        }
      }
      const m = metricsOf(t, RESOLUTION_MS / 1000);
      return {
        tMs: (first + i) * RESOLUTION_MS,
        requestsPerSecond: m.requestsPerSecond,
        successRate: m.successRate,
        p50Ms: m.p50Ms,
        p99Ms: m.p99Ms,
      };
    });
    return { resolutionSeconds: RESOLUTION_MS / 1000, points };
  }

  /** The slots of the window ending now, oldest first (undefined: nothing was filed in it). */
  private slotsOf(windowMs: number, now: number): (Slot | undefined)[] {
    const count = Math.min(WINDOW_SLOTS, Math.max(1, Math.round(windowMs / RESOLUTION_MS)));
    const current = Math.floor(now / RESOLUTION_MS);
    const out: (Slot | undefined)[] = [];
    for (let no = current - count + 1; no <= current; no++) {
      const s = this.ring[no % WINDOW_SLOTS];
      out.push(s !== undefined && s.no === no ? s : undefined);
    }
    return out;
  }

  private slotAt(no: number): Slot {
    const i = no % WINDOW_SLOTS;
    let s = this.ring[i];
    if (s === undefined || s.no !== no) {
      s = { no, edges: new Map(), size: 0 };
      this.ring[i] = s;
    }
    return s;
  }
}
