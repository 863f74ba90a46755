/** Domain types shared by the control plane, the agent and the CLI. */

export type Health = 'passing' | 'warning' | 'critical' | 'unknown';
export const HEALTH_VALUES: readonly Health[] = ['passing', 'warning', 'critical', 'unknown'];

/** One running copy of a service, as registered. */
export interface InstanceSpec {
  service: string;
  instanceId: string;
  /** Where the owning agent reaches the instance on its own host. */
  address: string;
  port: number;
  zone: string;
  weight: number;
  tags: string[];
  metadata: Record<string, string>;
  health: Health;
}

/** An instance as the control plane stores it: owned by an agent's session lease. */
export interface Instance extends InstanceSpec {
  agentId: string;
}

/** Host-level identity of an agent and how other agents reach its inbound listener. */
export interface AgentInfo {
  agentId: string;
  hostname: string;
  address: string;
  inboundPort: number;
  zone: string;
  version: string;
}

/** An instance joined with its owning agent: what an outbound agent routes to. */
export interface Endpoint extends InstanceSpec {
  agentId: string;
  agentAddress: string;
  agentPort: number;
}

export type HealthCheckSpec =
  | { kind: 'http'; path: string; intervalMs: number; timeoutMs: number }
  | { kind: 'tcp'; intervalMs: number; timeoutMs: number };

/** What a local app asks its agent to register (admin API, CLI, client helper). */
export interface LocalServiceSpec {
  name: string;
  port: number;
  address: string;
  id?: string;
  zone?: string;
  weight: number;
  tags: string[];
  metadata: Record<string, string>;
  health?: HealthCheckSpec;
}

/** Resource names on the discovery stream: "<type>/<service>". */
export const RESOURCE_TYPE_ENDPOINTS = 'endpoints';

export function endpointsResourceName(service: string): string {
  return `${RESOURCE_TYPE_ENDPOINTS}/${service}`;
}

export function parseResourceName(name: string): { type: string; service: string } | null {
  const slash = name.indexOf('/');
  if (slash <= 0 || slash === name.length - 1) return null;
  return { type: name.slice(0, slash), service: name.slice(slash + 1) };
}
