/**
 * The inbound listener (host address): mesh traffic from other agents. The
 * calling agent already picked the instance and names it in x-weft-instance;
 * we hand the request to that instance if it is registered on this host, with
 * the same streaming and header hygiene as the outbound side, and without the
 * mesh control headers. No retries here: the calling agent owns the retry
 * decision (it retries on another endpoint when we answer unknown_instance or
 * upstream_connect_failed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { INSTANCE_HEADER, MeshError, MeshErrorCode, messageOf } from '@weft/shared';
import type { Listener, ProxyOptions } from '../contracts.js';
import { requestBudgetMs } from './deadline.js';
import { requestBody, sendOnce, streamResponse } from './forward.js';
import { MESH_REQUEST_HEADERS, requestIdOf, upstreamRequestHeaders } from './headers.js';
import { type RequestContext, startListenerServer } from './listener-server.js';
import { failureCode, failureMessage, releaseRequestBody, sendMeshError } from './mesh-response.js';
import { originOf, UpstreamPools } from './upstream-pools.js';

export type InboundOptions = ProxyOptions & { host: string; port: number };

export async function startInboundListener(opts: InboundOptions): Promise<Listener> {
  const logger = opts.logger.child({ listener: 'inbound' });
  const pools = new UpstreamPools();

  const handler = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> => {
    const requestId = requestIdOf(req.headers);
    const fail = (code: MeshErrorCode, message: string, fields: Record<string, unknown> = {}): void => {
      logger.info('request failed', { code, requestId, ...fields, detail: message });
      releaseRequestBody(req, res);
      sendMeshError(res, code, message, requestId);
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
    const outcome = await sendOnce(pool, {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers,
      body: requestBody(req),
      timeoutMs: budgetMs,
      clientGone: ctx.clientGone,
    });
    if (!outcome.ok) {
      if (outcome.kind === 'aborted') return;
      const what = `service ${instance.service}: instance ${instanceId} at ${instance.address}:${instance.port}`;
      return fail(failureCode(outcome.kind), failureMessage(outcome.kind, what, budgetMs, outcome.error), fields);
    }
    try {
      await streamResponse(res, outcome.response, requestId);
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
    }
  };

  return startListenerServer({
    name: 'inbound',
    host: opts.host,
    port: opts.port,
    logger,
    handler,
    onClosed: (graceful) => pools.close(graceful),
  });
}
