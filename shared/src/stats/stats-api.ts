/**
 * The shapes of the control plane's GET /v1/stats answer (docs/metrics.md): one
 * definition for the control plane that serves it and the CLI that reads it.
 */

/** The golden metrics of one service or edge over a window. */
export interface GoldenMetrics {
  requestsPerSecond: number;
  successRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
}

export interface StatsSnapshot {
  windowSeconds: number;
  resolutionSeconds: number;
  generatedAtMs: number;
  services: ({ service: string } & GoldenMetrics)[];
  edges: ({ source: string; destination: string } & GoldenMetrics)[];
}
