/**
 * The inbound listener (host address): mesh traffic from other agents, on
 * the one request pipeline (pipeline.ts) with the inbound strategy
 * (inbound-strategy.ts) and the inbound error mapping, which marks the
 * agent's own answers (respond.ts). With access enforced (opts.access), the
 * strategy decides each request with the source identity `identify` reads
 * from the connection (access-policy.ts).
 *
 * With mesh TLS (`tls`, always but under --insecure): TLS 1.3 only, a client
 * certificate of the mesh CA required at the handshake (mesh-tls.ts), and
 * each request's caller is the agent its certificate names
 * (peer-source.ts), never a header: that is the source `identify` gives
 * access policy. A caller on the deny list is refused on every path of the
 * hop: HTTP/1.1, CONNECT (the TCP mesh hop) and HTTP/2 (inbound-mesh-tls.ts).
 */
import { MetricsRegistry } from '@weft/shared';
import type { Listener, ProxyOptions } from '../contracts.js';
import { H2cServer } from '../http2/h2c-server.js';
import { H2SessionPool } from '../http2/session-pool.js';
import { AccessGate } from './access-gate.js';
import { h2InboundRescue } from './grpc-rescue.js';
import { h2InboundStrategy } from './h2-inbound-strategy.js';
import { inboundMeshTls } from './inbound-mesh-tls.js';
import { inboundStrategy } from './inbound-strategy.js';
import { startListenerServer } from './listener-server.js';
import type { MeshTls } from './mesh-tls.js';
import { requestPipeline } from './pipeline-h1.js';
import { h2Pipeline } from './pipeline-h2.js';
import { ProxyMetrics } from './proxy-metrics.js';
import { RequestLog } from './request-log.js';
import { DEFAULT_RESILIENCE, type ListenerLimits, type ResilienceOptions } from './resilience-options.js';
import { inboundRescue } from './respond.js';
import { inboundConnect } from './tcp-mesh-hop.js';
import { TunnelMetrics } from './tunnel-metrics.js';
import { DEFAULT_TUNNEL_OPTIONS, type TunnelOptions, Tunnels } from './tunnel-registry.js';
import { UpstreamPools } from './upstream-pools.js';

export type InboundOptions = ProxyOptions & {
  host: string;
  port: number;
  resilience?: Partial<Pick<ResilienceOptions, 'maxReplayBodyBytes'>>;
  limits?: Partial<ListenerLimits>;
  /** Shared with the outbound listener and the admin API's /metrics; a private registry when absent. */
  metrics?: ProxyMetrics;
  /** Upgraded (WebSocket) and TCP connections: idle and absolute timeouts, drain; defaults in tunnel-registry.ts. */
  tunnels?: Partial<TunnelOptions>;
  /** mTLS (mesh-tls.ts); absent: plaintext (--insecure). */
  tls?: MeshTls;
};

/** Connecting to a local instance for a peer's CONNECT, at most (the peer may ask for less). */
const TCP_CONNECT_TIMEOUT_MS = 5_000;

export async function startInboundListener(opts: InboundOptions): Promise<Listener> {
  const logger = opts.logger.child({ listener: 'inbound' });
  /** Per-request lines, bounded per (message, code, service): request-log.ts. */
  const requestLog = new RequestLog(logger);
  const pools = new UpstreamPools();
  const metrics = opts.metrics ?? new ProxyMetrics(new MetricsRegistry());
  const access = opts.access?.enforce ? new AccessGate(opts.access.policy, metrics, requestLog) : undefined;
  // HTTP/2 sessions to local instances that speak it (HTTP/2 calls, and HTTP/1.1 requests translated for them).
  const sessions = new H2SessionPool();
  const strategy = inboundStrategy({
    agentId: opts.agentId,
    local: opts.local,
    pools,
    metrics,
    maxReplayBodyBytes: opts.resilience?.maxReplayBodyBytes ?? DEFAULT_RESILIENCE.maxReplayBodyBytes,
    access,
    h2Sessions: sessions,
  });
  // Tunnels here are to local instances: a deregistered instance's tunnels close after the drain period.
  const tunnels = new Tunnels('inbound', { ...DEFAULT_TUNNEL_OPTIONS, ...opts.tunnels }, TunnelMetrics.of(metrics), logger, opts.local);
  const maxReplayBodyBytes = opts.resilience?.maxReplayBodyBytes ?? DEFAULT_RESILIENCE.maxReplayBodyBytes;
  // The mesh hop's mTLS (absent under --insecure): TLS options, and the deny list checked on every path.
  const meshTls = opts.tls && inboundMeshTls(opts.tls, opts.agentId, metrics, requestLog);
  // HTTP/2 and gRPC from peer agents (one session per calling agent; over mTLS, else h2c) on the same port.
  const onStream = h2Pipeline({
    strategy: h2InboundStrategy({
      agentId: opts.agentId,
      local: opts.local,
      sessions,
      metrics,
      maxReplayBodyBytes,
      access,
      identify: meshTls?.identifyStream,
      pools,
    }),
    rescue: h2InboundRescue(opts.agentId),
    requestLog,
    logger,
    unresolved: metrics.service('inbound', '-'),
    requestTimeoutMs: opts.requestTimeoutMs,
    accessLog: opts.accessLog && { log: opts.accessLog, direction: 'inbound' },
  });
  const h2 = new H2cServer(meshTls ? meshTls.guardStreams(onStream) : onStream, (err) =>
    logger.debug('http2 session error', { err: err.message }),
  );
  const pipeline = requestPipeline({
    strategy,
    rescue: inboundRescue(opts.agentId),
    requestLog,
    unresolved: metrics.service('inbound', '-'),
    requestTimeoutMs: opts.requestTimeoutMs,
    tunnels,
    accessLog: opts.accessLog && { log: opts.accessLog, direction: 'inbound' },
  });
  // The mesh hop of TCP connections (tcp-mesh-hop.ts).
  const connect = inboundConnect({
    agentId: opts.agentId,
    local: opts.local,
    tunnels,
    requestLog,
    connectTimeoutMs: TCP_CONNECT_TIMEOUT_MS,
    access,
    identify: meshTls?.identifyConnect,
  });
  return startListenerServer({
    name: 'inbound',
    host: opts.host,
    port: opts.port,
    logger,
    handler: meshTls ? meshTls.guardRequests(pipeline) : pipeline,
    tls: meshTls?.tls,
    limits: opts.limits,
    // Who called: the identity the verified mesh TLS certificate names (none under --insecure).
    identify: meshTls?.identify,
    onConnect: meshTls ? meshTls.guardConnect(connect) : connect,
    h2,
    onClosed: async (graceful) => {
      tunnels.closeAll();
      requestLog.close();
      await Promise.all([pools.close(graceful), sessions.close(graceful)]);
    },
  });
}
