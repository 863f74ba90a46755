/**
 * A TCP connection to a service (protocol tcp: a database, a cache), for the
 * outbound side: resolve the service, pick an endpoint with the service's
 * picker (the same load balancing as HTTP, an open connection counting as
 * a request in progress), connect straight to a local instance or through
 * the owning agent (tcp-mesh-hop.ts), and on a connect failure try another
 * endpoint. Every failed try feeds the outlier detector (a connect failure
 * or a peer's "not delivered" ejects the endpoint at once, as for HTTP).
 * A connect is retried only before any byte flowed: the client's bytes
 * wait until a connection is established, so a retry can never repeat them.
 * Only endpoints registered with `protocol: tcp` are used: a raw byte
 * stream to an HTTP instance would bypass everything the HTTP path does.
 *
 * Access: a connection to an instance on another host is decided by that
 * host's agent on the caller's certificate (tcp-mesh-hop.ts); one to an
 * instance on this host never crosses an inbound listener, so it is decided
 * here, on the same source the mesh hop would have presented (the caller's
 * proxy credential, else this host's agent: proxy-auth.ts), exactly as the
 * HTTP outbound path does for local instances. A denial is the answer
 * (`forbidden; policy=<rule>`), never a reason to try another endpoint.
 */
import { type Endpoint, MeshError, MeshErrorCode, messageOf, type SourceIdentity } from '@weft/shared';
import type { SocketTunnel } from '../http1/socket-tunnel.js';
import type { AccessGate } from './access-gate.js';
import { describeHealth } from './lb-policy.js';
import type { LoadTracker } from './load-tracker.js';
import type { MeshTls } from './mesh-tls.js';
import type { OutlierDetector, OutlierVerdict } from './outlier-detector.js';
import type { Route, Router } from './router.js';
import type { ServiceResilienceMap } from './service-resilience.js';
import { connectDirect, connectViaPeer, type TcpConnectOutcome } from './tcp-mesh-hop.js';
import type { TunnelMetrics } from './tunnel-metrics.js';
import { meshPoolKey, originOf, peerKeyOf } from './upstream-pools.js';

export interface TcpConnectDeps {
  agentId: string;
  router: Router;
  tracker: LoadTracker;
  detector: OutlierDetector;
  services: ServiceResilienceMap;
  metrics: TunnelMetrics;
  /** Per try: the connect, and for a remote endpoint the peer agent's answer. */
  connectTimeoutMs: number;
  /** Tries after the first one (on other endpoints when there are any). */
  maxRetries: number;
  /** mTLS to peer agents, as the HTTP pools (mesh-tls.ts); absent: plaintext (--insecure). */
  meshTls?: MeshTls;
  /** Access enforcement for instances on this host (method CONNECT, path "/", as the inbound side); absent: not enforced. */
  access?: AccessGate;
}

export type ServiceConnection =
  | { ok: true; tunnel: SocketTunnel; endpoint: Endpoint; tries: number; localInstance: boolean }
  | { ok: false; code: MeshErrorCode; message: string; notTcp?: boolean; detail?: string };

/**
 * Resolves `service` and connects to one of its endpoints (retrying connect
 * failures elsewhere). `who`: the local caller (a service by its proxy
 * credential, whose certificate is presented on the mesh hop, or this host's
 * agent); undefined only without proxy credentials (--insecure).
 */
export async function connectService(d: TcpConnectDeps, service: string, who?: SourceIdentity): Promise<ServiceConnection> {
  const source = who?.service;
  let route: Route;
  try {
    const r = d.router.route(service);
    route = r instanceof Promise ? await r : r;
  } catch (err) {
    if (err instanceof MeshError) return { ok: false, code: err.code, message: `service ${service}: ${err.message}` };
    return {
      ok: false,
      code: MeshErrorCode.controlPlaneUnavailable,
      message: `service ${service}: cannot resolve endpoints (${messageOf(err)})`,
    };
  }
  if (!route.endpoints.some((e) => e.protocol === 'tcp')) {
    const speaks = route.endpoints[0]?.protocol;
    return {
      ok: false,
      code: MeshErrorCode.badRequest,
      notTcp: true,
      message: `service ${route.service}${speaks ? ` speaks ${speaks}` : ' has no endpoints'}, not tcp: only protocol tcp services are reached as TCP connections${speaks === 'http' ? `; call http://${route.service}/ instead` : ''}`,
    };
  }
  const svc = d.services.get(route.service);
  const tried = new Set<string>();
  let skips = 0;
  let last: (TcpConnectOutcome & { ok: false }) | undefined;
  let checked = false;
  for (let i = 0; i <= d.maxRetries; i++) {
    const endpoint = route.picker.pick({ exclude: tried }) ?? (i > 0 ? route.picker.pick({}) : undefined);
    if (endpoint === undefined) break;
    tried.add(endpoint.instanceId);
    if (endpoint.protocol !== 'tcp') {
      // Another protocol's instance of the same service: not a try (bounded: each endpoint is skipped once at most).
      if (skips++ < route.endpoints.length) i--;
      continue;
    }
    const local = endpoint.agentId === d.agentId;
    if (local && d.access !== undefined && !checked) {
      // Once per connection, as the HTTP path decides once per request.
      checked = true;
      const denied = await d.access.checkWhenReady(route.service, who, 'CONNECT', '/', '');
      if (denied !== undefined) {
        d.metrics.connectFailed('outbound', route.service);
        return {
          ok: false,
          code: denied.code,
          message: `service ${route.service}: instance ${endpoint.instanceId}: ${denied.message}`,
          detail: denied.detail,
        };
      }
    }
    const done = d.tracker.start(endpoint.instanceId);
    const outcome = local
      ? await connectDirect(endpoint.address, endpoint.port, d.connectTimeoutMs)
      : await connectViaPeer(
          endpoint.agentAddress,
          endpoint.agentPort,
          { service: route.service, port: endpoint.port, instanceId: endpoint.instanceId },
          d.connectTimeoutMs,
          // The same key as the HTTP pool to that peer for this service and source: one session ticket serves both.
          d.meshTls?.clientFor(
            meshPoolKey(peerKeyOf(originOf(endpoint.agentAddress, endpoint.agentPort), endpoint.agentId), endpoint.service, source),
            endpoint.agentId,
            { service: endpoint.service, source },
          ),
        );
    const verdict: OutlierVerdict = outcome.ok ? 'success' : outcome.kind === 'refused' ? 'neutral' : 'unreachable';
    if (d.detector.record(verdict, endpoint.instanceId, endpoint.service, route.endpoints.length) > 0) svc.metrics.ejected();
    if (outcome.ok) {
      outcome.tunnel.socket.once('close', done);
      return { ok: true, tunnel: outcome.tunnel, endpoint, tries: i + 1, localInstance: local };
    }
    done();
    d.metrics.connectFailed('outbound', route.service);
    last = outcome;
    // A refusal that is not about reaching the app (e.g. the peer's access policy) is the answer.
    if (outcome.kind === 'refused') break;
  }
  if (last === undefined) {
    return {
      ok: false,
      code: MeshErrorCode.noHealthyEndpoint,
      message: `service ${route.service}: no healthy endpoint (${describeHealth(route.endpoints)})`,
    };
  }
  return {
    ok: false,
    code: last.code,
    message: `service ${route.service}: ${last.message}${tried.size > 1 ? ` (${tried.size} endpoints tried)` : ''}`,
    ...(last.detail !== undefined ? { detail: last.detail } : {}),
  };
}
