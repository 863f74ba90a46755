/** Shapes of the control plane's JSON read API (control-plane/src/server/http-*.ts). */

export interface Instance {
  instanceId: string;
  service: string;
  agentId: string;
  address: string;
  port: number;
  zone: string;
  weight: number;
  protocol: string;
  tags: string[];
  health: string;
}

export interface ServicesResponse {
  revision: string;
  services: { name: string; version: string; instances: Instance[] }[];
}

export interface ResourceStatus {
  name: string;
  sentVersion: string;
  ackedVersion: string;
  rejectedVersion: string;
  error: string;
}

export interface Agent {
  agentId: string;
  hostname: string;
  address: string;
  inboundPort: number;
  zone: string;
  version: string;
  connected: boolean;
  leaseExpiresAtMs: number | null;
  instances: number;
  stream: string | null;
  pendingNonce: string;
  resources: ResourceStatus[];
  certSerial: string;
  certExpiresAtMs: number;
  revoked: boolean;
}

export interface AgentsResponse {
  revision: string;
  agents: Agent[];
}

export interface ConfigDocument {
  service: string;
  kind: string;
  revision: string;
  document: unknown;
}

export interface ConfigResponse {
  revision: string;
  documents: ConfigDocument[];
}

export interface ConfigChange {
  service: string;
  kind: string;
  action: string;
  before: unknown;
  after: unknown;
}

export interface ConfigRevision {
  revision: string;
  appliedAt: string;
  description: string;
  changes: ConfigChange[];
}

export interface HistoryResponse {
  revision: string;
  revisions: ConfigRevision[];
}

/** Golden metrics of one service or one edge over the stats window. */
export interface GoldenMetrics {
  requestsPerSecond: number;
  successRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
}

export interface StatsResponse {
  windowSeconds: number;
  resolutionSeconds: number;
  generatedAtMs: number;
  services: (GoldenMetrics & { service: string })[];
  edges: (GoldenMetrics & { source: string; destination: string })[];
}

export interface SeriesPoint {
  tMs: number;
  requestsPerSecond: number;
  successRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface SeriesResponse {
  resolutionSeconds: number;
  points: SeriesPoint[];
}
