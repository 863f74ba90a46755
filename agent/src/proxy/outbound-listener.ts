/**
 * The outbound listener (loopback): local apps call services through it,
 * either as an HTTP forward proxy or with `Host: <service>`, on the one
 * request pipeline (pipeline.ts) with the outbound strategy
 * (outbound-strategy.ts). Per destination service (service-resilience.ts):
 * circuit breaking on admission, a retry budget and per-try timeouts in the
 * retry loop, and metrics. The traffic policy (route-policy.ts, implemented
 * by agent/src/policy) supplies, per request, the matched rule's deadline,
 * retry and per-try timeout, and per service the load-balancing policy
 * (with the request's hash key) and the circuit-breaker and
 * outlier-detection overrides of its ServicePolicy.
 */
import type { Socket } from 'node:net';
import { MeshErrorCode, MetricsRegistry } from '@weft/shared';
import type { ExternalSource, Listener, ProxyOptions } from '../contracts.js';
import { H2cServer } from '../http2/h2c-server.js';
import { H2SessionPool } from '../http2/session-pool.js';
import { AccessGate } from './access-gate.js';
import { externalConnect } from './external-connect.js';
import { h2OutboundRescue } from './grpc-rescue.js';
import { h2OutboundStrategy } from './h2-outbound-strategy.js';
import { LEAST_REQUEST } from './lb-policies.js';
import { getLbPolicy } from './lb-policy.js';
import { type RequestHandler, startListenerServer } from './listener-server.js';
import { LoadTracker } from './load-tracker.js';
import { writeRawMeshError } from './mesh-response.js';
import type { MeshTls } from './mesh-tls.js';
import { isLoopbackHost } from './outbound-external.js';
import { outboundStrategy } from './outbound-strategy.js';
import { OutlierDetector } from './outlier-detector.js';
import { requestPipeline } from './pipeline-h1.js';
import { h2Pipeline } from './pipeline-h2.js';
import { withLocalCallers } from './proxy-auth.js';
import { ProxyMetrics } from './proxy-metrics.js';
import { RequestLog } from './request-log.js';
import { type ListenerLimits, type ResilienceOptions, resolveResilience } from './resilience-options.js';
import { outboundRescue } from './respond.js';
import type { RoutePolicy } from './route-policy.js';
import { Router } from './router.js';
import { ServiceResilienceMap } from './service-resilience.js';
import { LocalUpstreamPorts } from './tcp-local-upstreams.js';
import { meshConnect } from './tcp-outbound.js';
import { TunnelMetrics } from './tunnel-metrics.js';
import { DEFAULT_TUNNEL_OPTIONS, type TunnelOptions, Tunnels } from './tunnel-registry.js';
import { UpstreamPools } from './upstream-pools.js';

export { describeEndpoint } from './outbound-strategy.js';

export type OutboundOptions = ProxyOptions & {
  host: string;
  port: number;
  /** Defaults in resilience-options.ts. */
  resilience?: Partial<ResilienceOptions>;
  limits?: Partial<ListenerLimits>;
  /** Shared with the inbound listener and the admin API's /metrics; a private registry when absent. */
  metrics?: ProxyMetrics;
  /** The traffic policy, consulted once per request before an endpoint is picked. */
  policy?: RoutePolicy;
  /** Hosts outside the mesh declared by ExternalService documents (outbound-external.ts, external-connect.ts). */
  externals?: ExternalSource;
  /** Upgraded (WebSocket) and TCP connections: idle and absolute timeouts, drain; defaults in tunnel-registry.ts. */
  tunnels?: Partial<TunnelOptions>;
  /** mTLS to peer agents (mesh-tls.ts); absent: plaintext (--insecure). */
  tls?: MeshTls;
};

/** The outbound listener, and the local ports it opens for TCP upstreams (`weft upstream add`). */
export interface OutboundListener extends Listener {
  readonly upstreams: LocalUpstreamPorts;
}

/** Per try of a TCP connect: the connect, and a peer agent's answer to CONNECT. */
const TCP_CONNECT_TIMEOUT_MS = 5_000;

export async function startOutboundListener(opts: OutboundOptions): Promise<OutboundListener> {
  const logger = opts.logger.child({ listener: 'outbound' });
  /** Per-request lines, bounded per (message, code, service): request-log.ts. */
  const requestLog = new RequestLog(logger);
  const pools = new UpstreamPools({ tls: opts.tls });
  const tracker = new LoadTracker();
  const resilience = resolveResilience(opts.resilience);
  const metrics = opts.metrics ?? new ProxyMetrics(new MetricsRegistry());
  const detector = new OutlierDetector(resilience);
  const services = new ServiceResilienceMap(resilience, metrics, logger, detector);
  metrics.watchEjected(() => detector.ejectedByService());
  const load = { active: (id: string) => tracker.active(id), isEjected: (id: string) => detector.isEjected(id) };
  const router = new Router(opts.endpoints, getLbPolicy(LEAST_REQUEST), load, (service) => opts.policy?.settings(service)?.lb?.policy);
  opts.policy?.setLoad(load);
  const access = opts.access?.enforce ? new AccessGate(opts.access.policy, metrics, requestLog) : undefined;
  /** The bound port, known once listening: a call to it as an outside host would loop. */
  let selfPort = 0;
  const isSelf = (host: string, port: number) => port === selfPort && isLoopbackHost(host);
  // HTTP/2 sessions (to peer agents and to local HTTP/2 instances), shared by both protocols' strategies.
  const sessions = new H2SessionPool();
  const strategy = outboundStrategy({
    agentId: opts.agentId,
    logger,
    router,
    pools,
    tracker,
    detector,
    services,
    maxReplayBodyBytes: resilience.maxReplayBodyBytes,
    policy: opts.policy,
    access,
    externals: opts.externals,
    isSelf,
    h2Sessions: sessions,
  });

  const tunnels = new Tunnels('outbound', { ...DEFAULT_TUNNEL_OPTIONS, ...opts.tunnels }, TunnelMetrics.of(metrics), logger, opts.local);
  const tcp = {
    agentId: opts.agentId,
    router,
    tracker,
    detector,
    services,
    metrics: tunnels.tunnelMetrics,
    connectTimeoutMs: TCP_CONNECT_TIMEOUT_MS,
    maxRetries: resilience.maxRetries,
    tunnels,
    requestLog,
    meshTls: opts.tls,
    callers: opts.callers,
    access,
  };
  const upstreams = new LocalUpstreamPorts({ ...tcp, logger, host: opts.host, caller: opts.callers?.agent });
  // HTTP/2 and gRPC (h2c) on the same port, with the same router, breakers, detector and policy.
  const h2 = new H2cServer(
    h2Pipeline({
      strategy: h2OutboundStrategy({
        agentId: opts.agentId,
        logger,
        router,
        sessions,
        tracker,
        detector,
        services,
        maxReplayBodyBytes: resilience.maxReplayBodyBytes,
        policy: opts.policy,
        meshTls: opts.tls,
        callers: opts.callers,
        access,
        pools,
      }),
      rescue: h2OutboundRescue,
      requestLog,
      logger,
      unresolved: metrics.service('outbound', '-'),
      requestTimeoutMs: opts.requestTimeoutMs,
      accessLog: opts.accessLog && { log: opts.accessLog, direction: 'outbound' },
    }),
    (err) => logger.debug('http2 session error', { err: err.message }),
  );

  // The caller of each request: its proxy credential (407 when wrong), else this host's agent (proxy-auth.ts).
  const callersFirst = (handler: RequestHandler): RequestHandler =>
    opts.callers === undefined
      ? handler
      : withLocalCallers(opts.callers, handler, (message) =>
          requestLog.log('request refused', MeshErrorCode.proxyAuthInvalid, { detail: message }),
        );

  const rejectConnect = (socket: Socket, target: string): void => {
    requestLog.log('request failed', MeshErrorCode.badRequest, { detail: 'CONNECT refused' });
    writeRawMeshError(
      socket,
      405,
      MeshErrorCode.badRequest,
      `CONNECT ${target}: HTTPS tunnelling through the mesh is not supported yet; call http://<service>/ instead`,
    );
  };
  // Declared external hosts are tunnelled; undeclared ones answered unknown_service; the rest falls through.
  const onConnect = externalConnect(
    { externals: opts.externals, endpoints: opts.endpoints, services, requestLog, logger, connectTimeoutMs: 5_000, isSelf, tunnels },
    rejectConnect,
  );

  const listener = await startListenerServer({
    name: 'outbound',
    host: opts.host,
    port: opts.port,
    logger,
    handler: callersFirst(
      requestPipeline({
        strategy,
        rescue: outboundRescue,
        requestLog,
        unresolved: metrics.service('outbound', '-'),
        requestTimeoutMs: opts.requestTimeoutMs,
        tunnels,
        accessLog: opts.accessLog && { log: opts.accessLog, direction: 'outbound' },
      }),
    ),
    limits: opts.limits,
    // The source is set by callersFirst; without proxy credentials (--insecure) local callers are unauthenticated.
    // Mesh tcp services first, then declared outside hosts; anything else is refused.
    onConnect: meshConnect(tcp, onConnect),
    h2,
    onClosed: async (graceful) => {
      await upstreams.closeAll();
      tunnels.closeAll();
      requestLog.close();
      await Promise.all([pools.close(graceful), sessions.close(graceful)]);
    },
  });
  selfPort = listener.port;
  return { ...listener, upstreams };
}
