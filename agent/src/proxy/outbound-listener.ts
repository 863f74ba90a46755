/**
 * The outbound listener (loopback): local apps call services through it,
 * either as an HTTP forward proxy or with `Host: <service>`, on the one
 * request pipeline (request-pipeline.ts) with the outbound strategy
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
import type { Listener, ProxyOptions } from '../contracts.js';
import { LEAST_REQUEST } from './lb-policies.js';
import { getLbPolicy } from './lb-policy.js';
import { startListenerServer } from './listener-server.js';
import { LoadTracker } from './load-tracker.js';
import { writeRawMeshError } from './mesh-response.js';
import type { MeshTls } from './mesh-tls.js';
import { outboundStrategy } from './outbound-strategy.js';
import { OutlierDetector } from './outlier-detector.js';
import { ProxyMetrics } from './proxy-metrics.js';
import { RequestLog } from './request-log.js';
import { requestPipeline } from './request-pipeline.js';
import { type ListenerLimits, type ResilienceOptions, resolveResilience } from './resilience-options.js';
import { outboundRescue } from './respond.js';
import type { RoutePolicy } from './route-policy.js';
import { Router } from './router.js';
import { ServiceResilienceMap } from './service-resilience.js';
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
  /** mTLS to peer agents (mesh-tls.ts); absent: plaintext (--insecure). */
  tls?: MeshTls;
};

export async function startOutboundListener(opts: OutboundOptions): Promise<Listener> {
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
  });

  const rejectConnect = (socket: Socket, target: string): void => {
    requestLog.log('request failed', MeshErrorCode.badRequest, { detail: 'CONNECT refused' });
    writeRawMeshError(
      socket,
      405,
      MeshErrorCode.badRequest,
      `CONNECT ${target}: HTTPS tunnelling through the mesh is not supported yet; call http://<service>/ instead`,
    );
  };

  return startListenerServer({
    name: 'outbound',
    host: opts.host,
    port: opts.port,
    logger,
    handler: requestPipeline({
      strategy,
      rescue: outboundRescue,
      requestLog,
      unresolved: metrics.service('outbound', '-'),
      requestTimeoutMs: opts.requestTimeoutMs,
    }),
    limits: opts.limits,
    onConnect: rejectConnect,
    onClosed: (graceful) => {
      requestLog.close();
      return pools.close(graceful);
    },
  });
}
