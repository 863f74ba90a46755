/**
 * Loads the wire contract (proto/weft/v1) with the same options the generated
 * types in ./generated were made with, and converts between proto messages and
 * domain types. Only this file knows the proto enum spellings.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as DiscoveryProto } from './generated/discovery.js';
import type { ProtoGrpcType as TelemetryProto } from './generated/telemetry.js';
import type { AgentInfo__Output } from './generated/weft/v1/AgentInfo.js';
import type { Endpoint__Output, Endpoint as EndpointMsg } from './generated/weft/v1/Endpoint.js';
import type { Health as HealthMsg } from './generated/weft/v1/Health.js';
import type { Instance__Output } from './generated/weft/v1/Instance.js';
import type { TokenKind as TokenKindMsg } from './generated/weft/v1/TokenKind.js';
import type { TokenKindName } from './identity/token-format.js';
import type { AgentInfo, Endpoint, Health, InstanceSpec } from './types.js';
import { validateProtocol } from './validate.js';

function findProtoRoot(): string {
  // shared/dist/proto.js -> <repo>/proto
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'weft/v1/discovery.proto'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('cannot find proto/weft/v1/discovery.proto next to the Weft installation');
}

export const PROTO_ROOT = findProtoRoot();

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

type WeftV1 = DiscoveryProto['weft']['v1'] & TelemetryProto['weft']['v1'];
let cached: WeftV1 | undefined;

/** The weft.v1 package: Discovery, Registry, Trust and Telemetry service constructors and definitions. */
export function loadWeftProto(): WeftV1 {
  if (!cached) {
    const def = protoLoader.loadSync(['weft/v1/discovery.proto', 'weft/v1/registry.proto', 'weft/v1/telemetry.proto'], LOADER_OPTIONS);
    cached = (grpc.loadPackageDefinition(def) as unknown as { weft: { v1: WeftV1 } }).weft.v1;
  }
  return cached;
}

const HEALTH_TO_PROTO: Record<Health, HealthMsg> = {
  unknown: 'HEALTH_UNKNOWN',
  passing: 'HEALTH_PASSING',
  warning: 'HEALTH_WARNING',
  critical: 'HEALTH_CRITICAL',
};

const TOKEN_KIND_TO_PROTO = { join: 'TOKEN_KIND_JOIN', operator: 'TOKEN_KIND_OPERATOR', read: 'TOKEN_KIND_READ' } as const satisfies Record<
  TokenKindName,
  TokenKindMsg
>;

export function tokenKindToProto(k: TokenKindName): (typeof TOKEN_KIND_TO_PROTO)[TokenKindName] {
  return TOKEN_KIND_TO_PROTO[k];
}

/** A token kind from the wire (enum name), or undefined for UNSPECIFIED and anything unknown. */
export function tokenKindFromProto(v: unknown): TokenKindName | undefined {
  for (const [name, msg] of Object.entries(TOKEN_KIND_TO_PROTO)) if (v === msg) return name as TokenKindName;
  return undefined;
}

export function healthToProto(h: Health): HealthMsg {
  return HEALTH_TO_PROTO[h];
}

/** Unknown or numeric values map to 'unknown' so a newer peer cannot crash us. */
export function healthFromProto(h: unknown): Health {
  switch (h) {
    case 'HEALTH_PASSING':
    case 1:
      return 'passing';
    case 'HEALTH_WARNING':
    case 2:
      return 'warning';
    case 'HEALTH_CRITICAL':
    case 3:
      return 'critical';
    default:
      return 'unknown';
  }
}

/** Proto Instance -> raw object in domain field names (validate it before use). */
export function instanceFieldsFromProto(m: Instance__Output): Record<string, unknown> {
  return {
    service: m.service,
    instanceId: m.instance_id,
    address: m.address,
    port: m.port,
    zone: m.zone,
    weight: m.weight,
    tags: m.tags,
    metadata: m.metadata,
    health: healthFromProto(m.health),
    protocol: m.protocol,
  };
}

export function instanceToProto(i: InstanceSpec & { agentId?: string }) {
  return {
    service: i.service,
    instance_id: i.instanceId,
    address: i.address,
    port: i.port,
    zone: i.zone,
    weight: i.weight,
    tags: i.tags,
    metadata: i.metadata,
    health: healthToProto(i.health),
    protocol: i.protocol,
    agent_id: i.agentId ?? '',
  };
}

export function agentInfoFromProto(m: AgentInfo__Output): AgentInfo {
  return {
    agentId: m.agent_id,
    hostname: m.hostname,
    address: m.address,
    inboundPort: m.inbound_port,
    zone: m.zone,
    version: m.version,
  };
}

export function agentInfoToProto(a: AgentInfo) {
  return {
    agent_id: a.agentId,
    hostname: a.hostname,
    address: a.address,
    inbound_port: a.inboundPort,
    zone: a.zone,
    version: a.version,
  };
}

export function endpointToProto(e: Endpoint): EndpointMsg {
  return {
    instance_id: e.instanceId,
    agent_id: e.agentId,
    agent_address: e.agentAddress,
    agent_port: e.agentPort,
    address: e.address,
    port: e.port,
    zone: e.zone,
    weight: e.weight,
    tags: e.tags,
    metadata: e.metadata,
    health: healthToProto(e.health),
    protocol: e.protocol,
  };
}

export function endpointFromProto(m: Endpoint__Output, service: string): Endpoint {
  return {
    service,
    instanceId: m.instance_id,
    agentId: m.agent_id,
    agentAddress: m.agent_address,
    agentPort: m.agent_port,
    address: m.address,
    port: m.port,
    zone: m.zone,
    weight: m.weight || 1,
    tags: m.tags,
    metadata: m.metadata,
    health: healthFromProto(m.health),
    protocol: validateProtocol(m.protocol, 'protocol'),
  };
}
