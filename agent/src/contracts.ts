/**
 * The seams between the agent's layers (DESIGN.md: discovery client -> config
 * view -> proxy -> local API). The proxy depends only on these interfaces, so
 * it can be tested with real listeners and a hand-built view.
 */

import type { Endpoint, Logger, Protocol } from '@weft/shared';
import type { AccessLog } from './proxy/access-log.js';
import type { AccessOptions } from './proxy/access-policy.js';
import type { LocalCallers } from './proxy/proxy-auth.js';

/** An immutable snapshot of one service's endpoints, as last accepted from the control plane. */
export interface ServiceSnapshot {
  readonly service: string;
  /** Opaque resource version; changes whenever the endpoint list changes. */
  readonly version: string;
  readonly endpoints: readonly Endpoint[];
}

/** What the proxy asks the config view for. Implemented by discovery/config-view.ts. */
export interface EndpointSource {
  /**
   * The current endpoints of `service`. Known services answer synchronously
   * (the hot path must not allocate a promise). The first call for a service
   * subscribes to it on the discovery stream and waits for the control
   * plane's answer, then either resolves or rejects with a MeshError:
   * `unknown_service` (the control plane says it does not exist) or
   * `control_plane_unavailable` (not connected, or no answer in time).
   */
  resolve(service: string): ServiceSnapshot | Promise<ServiceSnapshot>;
}

/** A host outside the mesh declared by an ExternalService document (shared/src/policy/policy-external.ts). */
export interface ExternalTarget {
  /** The ExternalService's name: its metrics label, logs, and the service its Routes/ServicePolicy name. */
  readonly service: string;
  readonly host: string;
  readonly port: number;
  /** The agent originates TLS to host:port (SNI = host). */
  readonly tls: boolean;
  readonly version: string;
}

/** What the proxy asks about hosts outside the mesh. Implemented by discovery/external-view.ts. */
export interface ExternalSource {
  /**
   * The ExternalService declared for `host`, or undefined when the control
   * plane says none is. Known hosts answer synchronously; the first call for
   * a host subscribes to "external/<host>" and waits for the answer, then
   * resolves, or rejects with a MeshError (`control_plane_unavailable`).
   */
  lookup(host: string): ExternalTarget | undefined | Promise<ExternalTarget | undefined>;
}

/** A service instance on this agent's own host, as the inbound side hands requests to it. */
export interface LocalInstance {
  readonly instanceId: string;
  readonly service: string;
  readonly address: string;
  readonly port: number;
  /** What the instance speaks (default http): the inbound side talks to it in that protocol. */
  readonly protocol?: Protocol;
}

/** Lookup of local instances by id. Implemented by local-api (the registrations of this host). */
export interface LocalInstances {
  get(instanceId: string): LocalInstance | undefined;
}

export interface ProxyOptions {
  agentId: string;
  endpoints: EndpointSource;
  local: LocalInstances;
  logger: Logger;
  /** Whole-request deadline (retries included). */
  requestTimeoutMs: number;
  /** Access policy enforcement (off unless `enforce`); see proxy/access-policy.ts. */
  access?: AccessOptions;
  /**
   * Who a local app is on the outbound listener, from its proxy credential
   * (proxy-auth.ts); absent: no credential is accepted and every local caller is unauthenticated (--insecure).
   */
  callers?: LocalCallers;
  /** One JSON line per (sampled) request on both listeners; off when absent (proxy/access-log.ts). */
  accessLog?: AccessLog;
}

/** A listening server the agent owns; close() stops accepting and drains in-flight requests. */
export interface Listener {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}
