/**
 * Validation at the edge: proto messages -> typed domain objects, done once,
 * before anything is written. Every error names the field path in the request
 * (`instances[0].port: must be 1..65535`, `agent.address: ...`).
 */
import type { AgentInfo, InstanceSpec } from '@weft/shared';
import {
  instanceFieldsFromProto,
  ValidationError,
  validateAddress,
  validateInstanceId,
  validateInstanceSpec,
  validatePort,
  validateZone,
} from '@weft/shared';
import type { AgentInfo__Output } from '@weft/shared/generated/weft/v1/AgentInfo';
import type { Instance__Output } from '@weft/shared/generated/weft/v1/Instance';

const MAX_HOSTNAME = 253;
const MAX_AGENT_VERSION = 64;
/** Upper bound on instances per Register call: one agent's host, not a bulk import. */
export const MAX_INSTANCES_PER_REGISTER = 1000;

function boundedString(v: unknown, field: string, max: number): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new ValidationError(field, 'must be a string');
  if (v.length > max) throw new ValidationError(field, `must be at most ${max} characters`);
  return v;
}

/** `agent` of a Register or the first DiscoveryRequest. */
export function parseAgentInfo(m: AgentInfo__Output | null | undefined, path: string): AgentInfo {
  if (!m) throw new ValidationError(path, 'is required');
  return {
    agentId: validateInstanceId(m.agent_id, `${path}.agent_id`),
    hostname: boundedString(m.hostname, `${path}.hostname`, MAX_HOSTNAME),
    address: validateAddress(m.address, `${path}.address`),
    inboundPort: validatePort(m.inbound_port, `${path}.inbound_port`),
    zone: validateZone(m.zone, `${path}.zone`),
    version: boundedString(m.version, `${path}.version`, MAX_AGENT_VERSION),
  };
}

/** Validates every instance (all of them, before any write); a duplicate id names the later entry. */
export function parseInstances(ms: readonly Instance__Output[] | null | undefined, path: string): InstanceSpec[] {
  const list = ms ?? [];
  if (list.length > MAX_INSTANCES_PER_REGISTER)
    throw new ValidationError(path, `at most ${MAX_INSTANCES_PER_REGISTER} instances per request`);
  const seen = new Map<string, number>();
  return list.map((m, i) => {
    const spec = validateInstanceSpec(instanceFieldsFromProto(m), `${path}[${i}]`);
    const first = seen.get(spec.instanceId);
    if (first !== undefined) throw new ValidationError(`${path}[${i}].instance_id`, `duplicate of ${path}[${first}].instance_id`);
    seen.set(spec.instanceId, i);
    return spec;
  });
}

/** A non-empty list of instance ids (Deregister). */
export function parseInstanceIds(ids: readonly string[] | null | undefined, path: string): string[] {
  const list = ids ?? [];
  if (list.length === 0) throw new ValidationError(path, 'at least one instance id is required');
  return list.map((id, i) => validateInstanceId(id, `${path}[${i}]`));
}
