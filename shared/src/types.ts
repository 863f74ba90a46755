/** Domain types shared by the control plane, the agent and the CLI. */

export type Health = 'passing' | 'warning' | 'critical' | 'unknown';

/** What an instance speaks: the agent talks to it in that protocol. */
export type Protocol = 'http' | 'http2' | 'grpc' | 'tcp';
export const PROTOCOLS: readonly Protocol[] = ['http', 'http2', 'grpc', 'tcp'];
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
  /** Default `http`. */
  protocol: Protocol;
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
  protocol: Protocol;
}
