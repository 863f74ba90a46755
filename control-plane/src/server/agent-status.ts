/**
 * An agent's status as the Registry API and the HTTP API report it: its
 * record, and per resource what its discovery stream sent, what the agent
 * acknowledged and what it rejected. Reads the stream's status (it sits above
 * discovery-stream.ts, which only looks down at the translator).
 */
import { agentInfoToProto } from '@weft/shared';
import type { AgentStatus } from '@weft/shared/generated/weft/v1/AgentStatus';
import type { AgentRecord } from '../registry/registry.js';
import type { ResourceStatus, StreamStatus } from './discovery-stream.js';
import type { Rejection } from './rejected-versions.js';

/**
 * The stream's per-resource state plus the agent's remembered rejections for
 * names the current stream does not hold (or when it has no stream).
 */
export function resourceStatuses(stream: StreamStatus | undefined, rejections: readonly Rejection[]): ResourceStatus[] {
  const out = [...(stream?.resources ?? [])];
  const seen = new Set(out.map((r) => r.name));
  for (const r of rejections) {
    if (seen.has(r.name)) continue;
    out.push({ name: r.name, sentVersion: '', ackedVersion: '', rejectedVersion: r.version, error: r.error });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What the trust side knows of an agent (absent with --insecure). */
export interface AgentTrustStatus {
  certSerial: string;
  certExpiresAtMs: number;
  revoked: boolean;
}

export function agentStatus(
  record: AgentRecord,
  stream: StreamStatus | undefined,
  rejections: readonly Rejection[] = [],
  trust?: AgentTrustStatus,
): AgentStatus {
  return {
    agent: agentInfoToProto(record.info),
    connected: record.connected,
    lease_expires_at_ms: record.leaseExpiresAtMs === null ? '0' : String(record.leaseExpiresAtMs),
    disconnected_at_ms: String(record.disconnectedAtMs ?? 0),
    instances: record.instances,
    resources: resourceStatuses(stream, rejections).map((r) => ({
      name: r.name,
      sent_version: r.sentVersion,
      acked_version: r.ackedVersion,
      rejected_version: r.rejectedVersion,
      error: r.error,
    })),
    pending_nonce: stream?.pendingNonce ?? '',
    cert_expires_at_ms: String(trust?.certExpiresAtMs ?? 0),
    cert_serial: trust?.certSerial ?? '',
    revoked: trust?.revoked ?? false,
  };
}
