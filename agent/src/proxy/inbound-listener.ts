/**
 * The inbound listener (host address): mesh traffic from other agents, on
 * the one request pipeline (request-pipeline.ts) with the inbound strategy
 * (inbound-strategy.ts) and the inbound error mapping, which marks the
 * agent's own answers (respond.ts). With access enforced (opts.access), the
 * strategy decides each request with the source identity `identify` reads
 * from the connection (access-policy.ts).
 */
import { MetricsRegistry } from '@weft/shared';
import type { Listener, ProxyOptions } from '../contracts.js';
import { H2cServer } from '../http2/h2c-server.js';
import { H2SessionPool } from '../http2/session-pool.js';
import { AccessGate } from './access-gate.js';
import { h2InboundRescue } from './grpc-rescue.js';
import { h2InboundStrategy } from './h2-inbound-strategy.js';
import { h2Pipeline } from './h2-pipeline.js';
import { inboundStrategy } from './inbound-strategy.js';
import { startListenerServer } from './listener-server.js';
import { ProxyMetrics } from './proxy-metrics.js';
import { RequestLog } from './request-log.js';
import { requestPipeline } from './request-pipeline.js';
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
  const strategy = inboundStrategy({
    agentId: opts.agentId,
    local: opts.local,
    pools,
    metrics,
    maxReplayBodyBytes: opts.resilience?.maxReplayBodyBytes ?? DEFAULT_RESILIENCE.maxReplayBodyBytes,
    access,
  });
  // Tunnels here are to local instances: a deregistered instance's tunnels close after the drain period.
  const tunnels = new Tunnels('inbound', { ...DEFAULT_TUNNEL_OPTIONS, ...opts.tunnels }, TunnelMetrics.of(metrics), logger, opts.local);
  const maxReplayBodyBytes = opts.resilience?.maxReplayBodyBytes ?? DEFAULT_RESILIENCE.maxReplayBodyBytes;
  // HTTP/2 and gRPC from peer agents (h2c, one session per calling agent) on the same port.
  const sessions = new H2SessionPool();
  const h2 = new H2cServer(
    h2Pipeline({
      strategy: h2InboundStrategy({ agentId: opts.agentId, local: opts.local, sessions, metrics, maxReplayBodyBytes }),
      rescue: h2InboundRescue(opts.agentId),
      requestLog,
      logger,
      unresolved: metrics.service('inbound', '-'),
      requestTimeoutMs: opts.requestTimeoutMs,
    }),
    (err) => logger.debug('http2 session error', { err: err.message }),
  );
  return startListenerServer({
    name: 'inbound',
    host: opts.host,
    port: opts.port,
    logger,
    handler: requestPipeline({
      strategy,
      rescue: inboundRescue(opts.agentId),
      requestLog,
      unresolved: metrics.service('inbound', '-'),
      requestTimeoutMs: opts.requestTimeoutMs,
      tunnels,
      accessLog: opts.accessLog && { log: opts.accessLog, direction: 'inbound' },
    }),
    limits: opts.limits,
    identify: opts.access?.identify,
    // The mesh hop of TCP connections (tcp-mesh-hop.ts).
    onConnect: inboundConnect({ agentId: opts.agentId, local: opts.local, tunnels, requestLog, connectTimeoutMs: TCP_CONNECT_TIMEOUT_MS }),
    h2,
    onClosed: async (graceful) => {
      tunnels.closeAll();
      requestLog.close();
      await Promise.all([pools.close(graceful), sessions.close(graceful)]);
    },
  });
}
