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
import { AccessGate } from './access-gate.js';
import { inboundStrategy } from './inbound-strategy.js';
import { startListenerServer } from './listener-server.js';
import { ProxyMetrics } from './proxy-metrics.js';
import { RequestLog } from './request-log.js';
import { requestPipeline } from './request-pipeline.js';
import { DEFAULT_RESILIENCE, type ListenerLimits, type ResilienceOptions } from './resilience-options.js';
import { inboundRescue } from './respond.js';
import { UpstreamPools } from './upstream-pools.js';

export type InboundOptions = ProxyOptions & {
  host: string;
  port: number;
  resilience?: Partial<Pick<ResilienceOptions, 'maxReplayBodyBytes'>>;
  limits?: Partial<ListenerLimits>;
  /** Shared with the outbound listener and the admin API's /metrics; a private registry when absent. */
  metrics?: ProxyMetrics;
};

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
    }),
    limits: opts.limits,
    identify: opts.access?.identify,
    onClosed: (graceful) => {
      requestLog.close();
      return pools.close(graceful);
    },
  });
}
