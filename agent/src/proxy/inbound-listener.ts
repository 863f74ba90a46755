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
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_HEADER, INSTANCE_HEADER, MeshError, MeshErrorCode, MetricsRegistry, messageOf } from '@weft/shared';
import type { Listener, ProxyOptions } from '../contracts.js';
import { Deadline, requestBudgetMs } from './deadline.js';
import { sendOnce, streamResponse, type TryOutcome } from './forward.js';
import { MESH_REQUEST_HEADERS, requestIdOf, upstreamRequestHeaders } from './headers.js';
import { type RequestContext, startListenerServer } from './listener-server.js';
import { failureCode, failureMessage, releaseRequestBody, sendMeshError } from './mesh-response.js';
import { ProxyMetrics, type ServiceMetrics } from './proxy-metrics.js';
import { hasBody, ReplayableBody } from './replay-body.js';
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

/** Where the request's metrics go once its instance is known. */
interface Served {
  metrics: ServiceMetrics;
}

export async function startInboundListener(opts: InboundOptions): Promise<Listener> {
  const logger = opts.logger.child({ listener: 'inbound' });
  const pools = new UpstreamPools();
  const maxReplayBodyBytes = opts.resilience?.maxReplayBodyBytes ?? DEFAULT_RESILIENCE.maxReplayBodyBytes;
  const metrics = opts.metrics ?? new ProxyMetrics(new MetricsRegistry());
  const unresolved = metrics.service('inbound', '-');

  const handler = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> => {
    const startedAt = performance.now();
    const served: Served = { metrics: unresolved };
    let errorCode = '';
    try {
      errorCode = await handle(req, res, ctx, served);
    } finally {
      served.metrics.request(res.headersSent ? res.statusCode : 0, errorCode, startedAt);
    }
  };

  /** Answers one request; returns its x-weft-error code ('' for the app's own answer). */
  const handle = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext, served: Served): Promise<string> => {
    const requestId = requestIdOf(req.headers);
    const fail = (code: MeshErrorCode, message: string, fields: Record<string, unknown> = {}): string => {
      logger.info('request failed', { code, requestId, ...fields, detail: message });
      releaseRequestBody(req, res);
      sendMeshError(res, code, message, requestId);
      return code;
    };

    const raw = req.headers[INSTANCE_HEADER];
    const instanceId = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    if (!instanceId) {
      return fail(MeshErrorCode.badRequest, `${INSTANCE_HEADER}: missing; this port only accepts mesh traffic from Weft agents`);
    }
    const instance = opts.local.get(instanceId);
    if (instance === undefined) {
      return fail(MeshErrorCode.unknownInstance, `instance ${instanceId}: not registered on this host (agent ${opts.agentId})`, {
        instance: instanceId,
      });
    }
    served.metrics = metrics.service('inbound', instance.service);
    const fields = { service: instance.service, instance: instanceId };
    const budgetMs = requestBudgetMs(req.headers, opts.requestTimeoutMs);
    if (budgetMs instanceof MeshError) return fail(budgetMs.code, budgetMs.message, fields);

    const headers = upstreamRequestHeaders(req.headers, {
      clientAddress: req.socket.remoteAddress,
      authority: req.headers.host ?? instance.service,
      requestId,
      firstHop: false,
      drop: MESH_REQUEST_HEADERS,
    });
    let pool: ReturnType<UpstreamPools['get']>;
    try {
      pool = pools.get(originOf(instance.address, instance.port));
    } catch (err) {
      return fail(MeshErrorCode.shuttingDown, `agent ${opts.agentId}: shutting down (${messageOf(err)})`, fields);
    }
    const deadline = new Deadline(budgetMs);
    const body = hasBody(req) ? new ReplayableBody(req, maxReplayBodyBytes) : null;
    let outcome: TryOutcome | undefined;
    for (let i = 0; i <= STALE_RETRIES; i++) {
      const stream = body === null ? null : body.nextStream();
      if (stream === undefined) break;
      outcome = await sendOnce(pool, {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers,
        body: stream,
        timeoutMs: deadline.remainingMs(),
        clientGone: ctx.clientGone,
      });
      if (outcome.ok || outcome.kind !== 'stale') break;
      logger.debug('keep-alive race with the app, sending again', { ...fields, requestId });
    }
    if (outcome === undefined) return 'client_gone';
    if (!outcome.ok) {
      if (outcome.kind === 'aborted') return 'client_gone';
      const what = `service ${instance.service}: instance ${instanceId} at ${instance.address}:${instance.port}`;
      return fail(failureCode(outcome.kind), failureMessage(outcome.kind, what, budgetMs, outcome.error), fields);
    }
    const appCode = outcome.response.headers[ERROR_HEADER];
    try {
      // Undefined when the answer was complete already: no await (a microtask) then.
      const streaming = streamResponse(res, outcome.response, requestId);
      if (streaming !== undefined) await streaming;
    } catch (err) {
      if (!res.headersSent) {
        return fail(
          MeshErrorCode.upstreamReset,
          `service ${instance.service}: instance ${instanceId}: invalid response head (${messageOf(err)})`,
          fields,
        );
      }
      const code = ctx.clientGone.aborted ? 'client_gone' : MeshErrorCode.upstreamReset;
      logger.info('response stream ended early', { ...fields, code, requestId, err: messageOf(err) });
      return code;
    }
    return appCode === undefined ? '' : String(appCode);
  };

  return startListenerServer({
    name: 'inbound',
    host: opts.host,
    port: opts.port,
    logger,
    handler,
    limits: opts.limits,
    onClosed: (graceful) => pools.close(graceful),
  });
}
