/**
 * The inbound listener (host address): mesh traffic from other agents. The
 * calling agent already picked the instance and names it in x-weft-instance;
 * we hand the request to that instance if it is registered on this host, with
 * the same streaming and header hygiene as the outbound side, and without the
 * mesh control headers. No retries here: the calling agent owns the retry
 * decision (it retries on another endpoint when we answer unknown_instance or
 * upstream_connect_failed). The one exception is the keep-alive race with the
 * local app (stale-connection.ts): the app never saw the request, so it is
 * sent again at once, at most twice, whatever its method.
 *
 * Graceful drain: an instance deregistered from this agent disappears from
 * `local` at once, so new requests for it are answered unknown_instance (the
 * caller retries elsewhere) while requests already handed to it finish.
 */
import { ERROR_HEADER, INSTANCE_HEADER, MeshError, MeshErrorCode, MetricsRegistry, messageOf, REQUEST_ID_HEADER } from '@weft/shared';
import type { Listener, LocalInstance, ProxyOptions } from '../contracts.js';
import type { Http1Request, Http1Response } from '../http1/server-message.js';
import { Deadline, requestBudgetMs } from './deadline.js';
import { responseHeader, sendOnce, streamResponse, type TryOutcome } from './forward.js';
import { requestIdOf, TIMEOUT_HEADER, upstreamRequestLines } from './headers.js';
import { type RequestContext, startListenerServer } from './listener-server.js';
import { failureCode, failureMessage, releaseRequestBody, sendMeshError } from './mesh-response.js';
import { ProxyMetrics, type ServiceMetrics } from './proxy-metrics.js';
import { hasBody, ReplayableBody } from './replay-body.js';
import { RequestLog } from './request-log.js';
import { DEFAULT_RESILIENCE, type ListenerLimits, type ResilienceOptions } from './resilience-options.js';
import { originOf, UpstreamPools } from './upstream-pools.js';

export type InboundOptions = ProxyOptions & {
  host: string;
  port: number;
  resilience?: Partial<Pick<ResilienceOptions, 'maxReplayBodyBytes'>>;
  limits?: Partial<ListenerLimits>;
  /** Shared with the outbound listener and the admin API's /metrics; a private registry when absent. */
  metrics?: ProxyMetrics;
};

/** Sends again after the keep-alive race, at most this many times. */
const STALE_RETRIES = 2;

/** Origins of local instances, by instance id (rebuilt when an instance moves): no string building per request. */
interface CachedOrigin {
  address: string;
  port: number;
  origin: string;
}
/** Bound on the origin cache (instance churn must not grow it forever). */
const MAX_CACHED_ORIGINS = 4096;

export async function startInboundListener(opts: InboundOptions): Promise<Listener> {
  const logger = opts.logger.child({ listener: 'inbound' });
  /** Per-request lines, bounded per (message, code, service): request-log.ts. */
  const requestLog = new RequestLog(logger);
  const pools = new UpstreamPools();
  const maxReplayBodyBytes = opts.resilience?.maxReplayBodyBytes ?? DEFAULT_RESILIENCE.maxReplayBodyBytes;
  const metrics = opts.metrics ?? new ProxyMetrics(new MetricsRegistry());
  const unresolved = metrics.service('inbound', '-');
  const origins = new Map<string, CachedOrigin>();

  const poolFor = (instance: LocalInstance): ReturnType<UpstreamPools['get']> => {
    let c = origins.get(instance.instanceId);
    if (c === undefined || c.port !== instance.port || c.address !== instance.address) {
      if (origins.size >= MAX_CACHED_ORIGINS) origins.clear();
      c = { address: instance.address, port: instance.port, origin: originOf(instance.address, instance.port) };
      origins.set(instance.instanceId, c);
    }
    return pools.get(c.origin, c.address, c.port);
  };

  const fail = (
    req: Http1Request,
    res: Http1Response,
    requestId: string,
    code: MeshErrorCode,
    message: string,
    fields: Record<string, unknown> = {},
  ): string => {
    requestLog.log('request failed', code, { requestId, ...fields, detail: message });
    releaseRequestBody(req, res);
    sendMeshError(res, code, message, requestId);
    return code;
  };

  /**
   * Answers one request and counts it (one async function per request: the
   * metrics' try/finally is here rather than in a wrapper with its own promise).
   */
  const handler = async (req: Http1Request, res: Http1Response, ctx: RequestContext): Promise<void> => {
    const startedAt = performance.now();
    let served: ServiceMetrics = unresolved;
    /** The x-weft-error code of the answer ('' for the app's own answer). */
    let errorCode = '';
    try {
      const requestId = requestIdOf(req.header(REQUEST_ID_HEADER));
      const instanceId = req.header(INSTANCE_HEADER)?.trim();
      if (!instanceId) {
        errorCode = fail(
          req,
          res,
          requestId,
          MeshErrorCode.badRequest,
          `${INSTANCE_HEADER}: missing; this port only accepts mesh traffic from Weft agents`,
        );
        return;
      }
      const instance = opts.local.get(instanceId);
      if (instance === undefined) {
        const why = `instance ${instanceId}: not registered on this host (agent ${opts.agentId})`;
        errorCode = fail(req, res, requestId, MeshErrorCode.unknownInstance, why, { instance: instanceId });
        return;
      }
      served = metrics.service('inbound', instance.service);
      const budgetMs = requestBudgetMs(req.header(TIMEOUT_HEADER), opts.requestTimeoutMs);
      if (budgetMs instanceof MeshError) {
        errorCode = fail(req, res, requestId, budgetMs.code, budgetMs.message, { service: instance.service, instance: instanceId });
        return;
      }

      const head = upstreamRequestLines(req.rawHeaders, {
        clientAddress: req.remoteAddress,
        authority: req.host ?? instance.service,
        requestId,
        firstHop: false,
      });
      let pool: ReturnType<UpstreamPools['get']>;
      try {
        pool = poolFor(instance);
      } catch (err) {
        const why = `agent ${opts.agentId}: shutting down (${messageOf(err)})`;
        errorCode = fail(req, res, requestId, MeshErrorCode.shuttingDown, why, { service: instance.service, instance: instanceId });
        return;
      }
      const deadline = new Deadline(budgetMs);
      const body = hasBody(req) ? new ReplayableBody(req, maxReplayBodyBytes) : null;
      const method = req.method;
      const path = req.url;
      let outcome: TryOutcome | undefined;
      for (let i = 0; i <= STALE_RETRIES; i++) {
        const stream = body === null ? null : body.nextStream();
        if (stream === undefined) break;
        outcome = await sendOnce(pool, {
          method,
          path,
          head,
          body: stream,
          // The whole budget for the first try (no clock read), what is left of it for a re-send.
          timeoutMs: i === 0 ? budgetMs : deadline.remainingMs(),
          clientGone: ctx.clientGone,
        });
        if (outcome.ok || outcome.kind !== 'stale') break;
        logger.debug('keep-alive race with the app, sending again', { service: instance.service, instance: instanceId, requestId });
      }
      if (outcome === undefined) {
        errorCode = 'client_gone';
        return;
      }
      if (!outcome.ok) {
        if (outcome.kind === 'aborted') {
          errorCode = 'client_gone';
          return;
        }
        const what = `service ${instance.service}: instance ${instanceId} at ${instance.address}:${instance.port}`;
        const why = failureMessage(outcome.kind, what, budgetMs, outcome.error);
        errorCode = fail(req, res, requestId, failureCode(outcome.kind), why, { service: instance.service, instance: instanceId });
        return;
      }
      const appCode = responseHeader(outcome.response, ERROR_HEADER);
      try {
        // Undefined when the answer was complete already: no await (a microtask) then.
        const streaming = streamResponse(res, outcome.response, requestId);
        if (streaming !== undefined) await streaming;
      } catch (err) {
        const fields = { service: instance.service, instance: instanceId };
        if (!res.headersSent) {
          const why = `service ${instance.service}: instance ${instanceId}: invalid response head (${messageOf(err)})`;
          errorCode = fail(req, res, requestId, MeshErrorCode.upstreamReset, why, fields);
          return;
        }
        errorCode = ctx.clientGone.aborted ? 'client_gone' : MeshErrorCode.upstreamReset;
        requestLog.log('response stream ended early', errorCode, { ...fields, requestId, err: messageOf(err) });
        return;
      }
      errorCode = appCode === undefined ? '' : String(appCode);
    } finally {
      served.request(res.headersSent ? res.statusCode : 0, errorCode, startedAt);
    }
  };

  return startListenerServer({
    name: 'inbound',
    host: opts.host,
    port: opts.port,
    logger,
    handler,
    limits: opts.limits,
    onClosed: (graceful) => {
      requestLog.close();
      return pools.close(graceful);
    },
  });
}
