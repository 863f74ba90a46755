/**
 * The outbound listener (loopback): local apps call services through it,
 * either as an HTTP forward proxy or with `Host: <service>`. Per request:
 * parse the target, resolve the service, then pick-and-try with retries on a
 * different endpoint; each try goes either straight to an instance on this
 * host or to the owning agent's inbound listener with x-weft-instance.
 * The try is composed from small wrappers around sendOnce:
 *   load tracking ( outlier detection ( send to endpoint ) )
 * and the response body streams back to the app as it arrives.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type Endpoint, INSTANCE_HEADER, MeshError, MeshErrorCode, messageOf } from '@weft/shared';
import type { Listener, ProxyOptions } from '../contracts.js';
import { Deadline, requestBudgetMs } from './deadline.js';
import { type Attempt, requestBody, sendOnce, streamResponse, type TrySend } from './forward.js';
import { MESH_REQUEST_HEADERS, requestIdOf, TIMEOUT_HEADER, upstreamRequestHeaders } from './headers.js';
import { LEAST_REQUEST } from './lb-least-request.js';
import { describeHealth, getLbPolicy } from './lb-policy.js';
import { type RequestContext, startListenerServer } from './listener-server.js';
import { LoadTracker, withLoadTracking } from './load-tracker.js';
import { failureCode, failureMessage, releaseRequestBody, sendMeshError, writeRawMeshError } from './mesh-response.js';
import { OutlierDetector, withOutlierDetection } from './outlier-detector.js';
import { parseRequestTarget } from './request-target.js';
import { runWithRetries } from './retry-policy.js';
import { type Route, Router } from './router.js';
import { originOf, UpstreamPools } from './upstream-pools.js';

export type OutboundOptions = ProxyOptions & { host: string; port: number };

/** "instance orders-1 at 127.0.0.1:8080" or "instance orders-1 via agent b (10.0.0.2:15006)". */
export function describeEndpoint(endpoint: Endpoint, agentId: string): string {
  return endpoint.agentId === agentId
    ? `instance ${endpoint.instanceId} at ${endpoint.address}:${endpoint.port}`
    : `instance ${endpoint.instanceId} via agent ${endpoint.agentId} (${endpoint.agentAddress}:${endpoint.agentPort})`;
}

/** The innermost try: local instances directly, remote ones through their agent's inbound listener. */
function sendToEndpoint(pools: UpstreamPools, agentId: string): TrySend {
  return async (endpoint, attempt) => {
    const local = endpoint.agentId === agentId;
    const timeoutMs = attempt.deadline.remainingMs();
    const origin = local ? originOf(endpoint.address, endpoint.port) : originOf(endpoint.agentAddress, endpoint.agentPort);
    const headers = local
      ? attempt.headers
      : { ...attempt.headers, [INSTANCE_HEADER]: endpoint.instanceId, [TIMEOUT_HEADER]: String(Math.ceil(timeoutMs)) };
    let pool: ReturnType<UpstreamPools['get']>;
    try {
      pool = pools.get(origin);
    } catch (error) {
      return { ok: false, kind: 'reset', error };
    }
    return sendOnce(pool, {
      method: attempt.method,
      path: attempt.path,
      headers,
      body: attempt.body,
      timeoutMs,
      clientGone: attempt.clientGone,
    });
  };
}

export async function startOutboundListener(opts: OutboundOptions): Promise<Listener> {
  const logger = opts.logger.child({ listener: 'outbound' });
  const pools = new UpstreamPools();
  const tracker = new LoadTracker();
  const detector = new OutlierDetector();
  const router = new Router(opts.endpoints, getLbPolicy(LEAST_REQUEST), {
    active: (id) => tracker.active(id),
    isEjected: (id) => detector.isEjected(id),
  });
  const send = withLoadTracking(
    tracker,
    withOutlierDetection(detector, sendToEndpoint(pools, opts.agentId), (endpoint, ms) =>
      logger.warn('endpoint ejected', { service: endpoint.service, instance: endpoint.instanceId, ejectMs: ms }),
    ),
  );

  const handler = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> => {
    const requestId = requestIdOf(req.headers);
    const fail = (code: MeshErrorCode, message: string, fields: Record<string, unknown> = {}): void => {
      logger.info('request failed', { code, requestId, ...fields, detail: message });
      releaseRequestBody(req, res);
      sendMeshError(res, code, message, requestId);
    };

    const target = parseRequestTarget(req);
    if (target instanceof MeshError) return fail(target.code, target.message);
    const { service } = target;
    const budgetMs = requestBudgetMs(req.headers, opts.requestTimeoutMs);
    if (budgetMs instanceof MeshError) return fail(budgetMs.code, budgetMs.message, { service });
    const deadline = new Deadline(budgetMs);

    let route: Route;
    try {
      route = await router.route(service);
    } catch (err) {
      if (err instanceof MeshError) return fail(err.code, `service ${service}: ${err.message}`, { service });
      return fail(MeshErrorCode.controlPlaneUnavailable, `service ${service}: cannot resolve endpoints (${messageOf(err)})`, { service });
    }
    if (ctx.clientGone.aborted) return;

    const attempt: Attempt = {
      method: req.method ?? 'GET',
      path: target.path,
      headers: upstreamRequestHeaders(req.headers, {
        clientAddress: req.socket.remoteAddress,
        authority: target.authority,
        requestId,
        firstHop: true,
        drop: MESH_REQUEST_HEADERS,
      }),
      body: requestBody(req),
      serviceSize: route.endpoints.length,
      deadline,
      clientGone: ctx.clientGone,
    };
    const result = await runWithRetries(
      (exclude) => route.picker.pick({ exclude }),
      send,
      attempt,
      (failed, outcome, next) =>
        logger.debug('retrying on another endpoint', {
          service,
          instance: failed.instanceId,
          next: next.instanceId,
          code: outcome.ok ? outcome.response.statusCode : outcome.kind,
        }),
    );

    const { endpoint, outcome } = result;
    if (endpoint === undefined || outcome === undefined) {
      return fail(MeshErrorCode.noHealthyEndpoint, `service ${service}: no healthy endpoint (${describeHealth(route.endpoints)})`, {
        service,
      });
    }
    if (!outcome.ok) {
      if (outcome.kind === 'aborted') {
        logger.debug('client went away', { service, instance: endpoint.instanceId, requestId });
        return;
      }
      const what = `service ${service}: ${describeEndpoint(endpoint, opts.agentId)}`;
      return fail(failureCode(outcome.kind), failureMessage(outcome.kind, what, budgetMs, outcome.error), {
        service,
        instance: endpoint.instanceId,
        tries: result.tries,
      });
    }
    try {
      await streamResponse(res, outcome.response, requestId);
    } catch (err) {
      if (!res.headersSent) {
        return fail(
          MeshErrorCode.upstreamReset,
          `service ${service}: ${describeEndpoint(endpoint, opts.agentId)}: invalid response head (${messageOf(err)})`,
          { service, instance: endpoint.instanceId },
        );
      }
      // Either side failed mid-body; the client's response is already cut.
      const code = ctx.clientGone.aborted ? 'client_gone' : MeshErrorCode.upstreamReset;
      logger.info('response stream ended early', { service, instance: endpoint.instanceId, code, requestId, err: messageOf(err) });
    }
  };

  const rejectConnect = (server: Server): void => {
    server.on('connect', (req: IncomingMessage, socket: Socket) => {
      socket.on('error', () => {});
      logger.info('request failed', { code: MeshErrorCode.badRequest, detail: 'CONNECT refused' });
      writeRawMeshError(
        socket,
        405,
        MeshErrorCode.badRequest,
        `CONNECT ${req.url ?? ''}: HTTPS tunnelling through the mesh is not supported yet; call http://<service>/ instead`,
      );
    });
  };

  return startListenerServer({
    name: 'outbound',
    host: opts.host,
    port: opts.port,
    logger,
    handler,
    configure: rejectConnect,
    onClosed: (graceful) => pools.close(graceful),
  });
}
