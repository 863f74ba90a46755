/**
 * The inbound listener (host address): mesh traffic from other agents, on
 * the one request pipeline (request-pipeline.ts) with the inbound strategy
 * (inbound-strategy.ts) and the inbound error mapping, which marks the
 * agent's own answers (respond.ts).
 *
 * With mesh TLS (`tls`, always but under --insecure): TLS 1.3 only, a client
 * certificate of the mesh CA required at the handshake (mesh-tls.ts), and
 * each request's caller is the agent its certificate names
 * (peer-source.ts), never a header. A caller on the deny list is answered
 * 403 forbidden on its first request and its connection closed.
 */
import { MeshErrorCode, MetricsRegistry } from '@weft/shared';
import type { Listener, ProxyOptions } from '../contracts.js';
import { inboundStrategy } from './inbound-strategy.js';
import { type ListenerTls, type RequestHandler, startListenerServer } from './listener-server.js';
import { releaseRequestBody, sendMeshError } from './mesh-response.js';
import type { MeshTls } from './mesh-tls.js';
import { sourceFromPeerCertificate } from './peer-source.js';
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
  /** mTLS (mesh-tls.ts); absent: plaintext (--insecure). */
  tls?: MeshTls;
};

export async function startInboundListener(opts: InboundOptions): Promise<Listener> {
  const logger = opts.logger.child({ listener: 'inbound' });
  /** Per-request lines, bounded per (message, code, service): request-log.ts. */
  const requestLog = new RequestLog(logger);
  const pools = new UpstreamPools();
  const metrics = opts.metrics ?? new ProxyMetrics(new MetricsRegistry());
  const strategy = inboundStrategy({
    agentId: opts.agentId,
    local: opts.local,
    pools,
    metrics,
    maxReplayBodyBytes: opts.resilience?.maxReplayBodyBytes ?? DEFAULT_RESILIENCE.maxReplayBodyBytes,
  });
  const pipeline = requestPipeline({
    strategy,
    rescue: inboundRescue(opts.agentId),
    requestLog,
    unresolved: metrics.service('inbound', '-'),
    requestTimeoutMs: opts.requestTimeoutMs,
  });
  const meshTls = opts.tls;
  let tls: ListenerTls | undefined;
  let handler: RequestHandler = pipeline;
  if (meshTls !== undefined) {
    const tlsConnections = new Map<string, ReturnType<typeof metrics.tlsConnections.labels>>();
    tls = {
      options: meshTls.serverOptions(),
      watch: (apply) => meshTls.watchServerContext(apply),
      onConnection: (session) => {
        const key = `${session.protocol}/${session.resumed}`;
        let child = tlsConnections.get(key);
        if (child === undefined) {
          child = metrics.tlsConnections.labels(session.protocol, String(session.resumed));
          tlsConnections.set(key, child);
        }
        child.inc();
      },
      onHandshakeError: (err, remoteAddress) => {
        const reason = (err as { code?: string }).code ?? 'unknown';
        metrics.tlsHandshakeFailures.labels(reason).inc();
        requestLog.log('mTLS handshake refused', reason, { remoteAddress, detail: err.message.split('\n')[0] });
      },
    };
    // The deny list: a revoked caller's connection may predate its revocation (or resume a session made before it).
    handler = (req, res, ctx) => {
      const source = sourceFromPeerCertificate(req.tls);
      if (source?.agentId !== undefined && !meshTls.isRevoked(source.agentId, source.serial)) return pipeline(req, res, ctx);
      const why =
        source === undefined
          ? 'no client certificate'
          : source.agentId === undefined
            ? `the client certificate names no agent (${source.spiffeId || 'no SPIFFE ID'})`
            : `${source.spiffeId} (serial ${source.serial}) is revoked`;
      metrics.tlsRefused.labels(source?.agentId === undefined ? 'not_an_agent' : 'revoked').inc();
      requestLog.log('request refused', MeshErrorCode.forbidden, { detail: why });
      res.setHeader('connection', 'close');
      releaseRequestBody(req, res);
      sendMeshError(res, MeshErrorCode.forbidden, `agent ${opts.agentId}: mesh caller refused: ${why}`);
      return Promise.resolve();
    };
  }
  // The access seam (ListenerServerOptions.identify, from main): with mesh TLS the caller is
  // `(req) => sourceFromPeerCertificate(req.tls)`; it belongs in these options when that seam is merged.
  return startListenerServer({
    name: 'inbound',
    host: opts.host,
    port: opts.port,
    logger,
    handler,
    tls,
    limits: opts.limits,
    onClosed: (graceful) => {
      requestLog.close();
      return pools.close(graceful);
    },
  });
}
