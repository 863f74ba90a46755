/**
 * Registry rows as both SQL backends store them (same columns in SQLite and
 * PostgreSQL; tags and metadata as JSON text) and their mapping to domain
 * types. No SQL runs here.
 */
import type { Health, Instance, InstanceSpec, Protocol } from '@weft/shared';
import type { StoredAgent } from './store-contract.js';

export interface AgentRow {
  agent_id: string;
  hostname: string;
  address: string;
  inbound_port: number;
  zone: string;
  version: string;
  lease_expires_at_ms: number | null;
  revision: number;
}

export interface InstanceRow {
  instance_id: string;
  service: string;
  agent_id: string;
  address: string;
  port: number;
  zone: string;
  weight: number;
  tags: string;
  metadata: string;
  health: string;
  protocol: string;
  revision: number;
}

export const INSTANCE_COLUMNS = 'instance_id, service, agent_id, address, port, zone, weight, tags, metadata, health, protocol, revision';

export function agentFromRow(r: AgentRow): StoredAgent {
  return {
    agentId: r.agent_id,
    hostname: r.hostname,
    address: r.address,
    inboundPort: r.inbound_port,
    zone: r.zone,
    version: r.version,
    leaseExpiresAtMs: r.lease_expires_at_ms,
    revision: r.revision,
  };
}

export function instanceFromRow(r: InstanceRow): Instance {
  return {
    service: r.service,
    instanceId: r.instance_id,
    agentId: r.agent_id,
    address: r.address,
    port: r.port,
    zone: r.zone,
    weight: r.weight,
    tags: JSON.parse(r.tags) as string[],
    metadata: JSON.parse(r.metadata) as Record<string, string>,
    health: r.health as Health,
    protocol: r.protocol as Protocol,
  };
}

export function instanceOf(agentId: string, i: InstanceSpec): Instance {
  return { ...i, agentId };
}

/** The columns that define an instance's content, in a comparable form. */
export function instanceValues(agentId: string, i: InstanceSpec) {
  return {
    instance_id: i.instanceId,
    service: i.service,
    agent_id: agentId,
    address: i.address,
    port: i.port,
    zone: i.zone,
    weight: i.weight,
    tags: JSON.stringify(i.tags),
    metadata: JSON.stringify(i.metadata),
    health: i.health,
    protocol: i.protocol,
  };
}

export function sameInstance(row: InstanceRow, v: ReturnType<typeof instanceValues>): boolean {
  return (
    row.service === v.service &&
    row.agent_id === v.agent_id &&
    row.address === v.address &&
    row.port === v.port &&
    row.zone === v.zone &&
    row.weight === v.weight &&
    row.tags === v.tags &&
    row.metadata === v.metadata &&
    row.health === v.health &&
    row.protocol === v.protocol
  );
}
