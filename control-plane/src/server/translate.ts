/**
 * The translator: registry entries -> proto messages. The discovery stream
 * state machine decides *what* to send; this file only decides *how it looks*
 * on the wire (linkerd's watcher/translator split).
 */
import { agentInfoToProto, endpointsResourceName, endpointToProto, instanceToProto } from '@weft/shared';
import type { AgentStatus } from '@weft/shared/generated/weft/v1/AgentStatus';
import type { DiscoveryResponse } from '@weft/shared/generated/weft/v1/DiscoveryResponse';
import type { Resource } from '@weft/shared/generated/weft/v1/Resource';
import type { ServiceSummary } from '@weft/shared/generated/weft/v1/ServiceSummary';
import type { ServiceEntry } from '../registry/endpoint-view.js';
import type { PolicyEntry } from '../registry/policy-registry.js';
import type { AgentRecord } from '../registry/registry.js';
import type { ResourceStatus, StreamStatus } from './discovery-stream.js';
import { policyResource } from './policy-translate.js';
import type { Rejection } from './rejected-versions.js';

/**
 * Entries are immutable and replaced on change, so the translation of one
 * entry is made once and shared by every stream that sends it.
 */
const resourceCache = new WeakMap<ServiceEntry, Resource>();

export function endpointsResource(entry: ServiceEntry): Resource {
  let r = resourceCache.get(entry);
  if (!r) {
    r = {
      name: endpointsResourceName(entry.service),
      version: entry.version,
      endpoints: { service: entry.service, endpoints: entry.endpoints.map(endpointToProto) },
    };
    resourceCache.set(entry, r);
  }
  return r;
}

export interface ResponsePlan {
  nonce: string;
  revision: number;
  resources: readonly ServiceEntry[];
  /** "policy/<service>" resources, sent after the endpoints. */
  policies?: readonly PolicyEntry[];
  removed: readonly string[];
  notFound: readonly string[];
}

export function discoveryResponse(plan: ResponsePlan): DiscoveryResponse {
  return {
    nonce: plan.nonce,
    revision: String(plan.revision),
    resources: [...plan.resources.map(endpointsResource), ...(plan.policies ?? []).map(policyResource)],
    removed: [...plan.removed],
    not_found: [...plan.notFound],
  };
}

export function serviceSummary(entry: ServiceEntry): ServiceSummary {
  return {
    name: entry.service,
    version: entry.version,
    instances: entry.endpoints.map((e) => instanceToProto(e)),
  };
}

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

export function agentStatus(record: AgentRecord, stream: StreamStatus | undefined, rejections: readonly Rejection[] = []): AgentStatus {
  return {
    agent: agentInfoToProto(record.info),
    connected: record.connected,
    lease_expires_at_ms: record.leaseExpiresAtMs === null ? '0' : String(record.leaseExpiresAtMs),
    instances: record.instances,
    resources: resourceStatuses(stream, rejections).map((r) => ({
      name: r.name,
      sent_version: r.sentVersion,
      acked_version: r.ackedVersion,
      rejected_version: r.rejectedVersion,
      error: r.error,
    })),
    pending_nonce: stream?.pendingNonce ?? '',
  };
}
