/**
 * Inbound: mesh traffic from other agents. The calling agent already picked
 * the instance and names it in x-weft-instance; we hand the request to that
 * instance if it is registered on this host, without the mesh control
 * headers. No retries here: the calling agent owns the retry decision (it
 * retries elsewhere when our own answer says unknown_instance,
 * upstream_connect_failed or shutting_down; respond.ts marks those answers
 * as ours). The one exception is a try that provably or very probably never
 * reached the app: a connection that closed before one byte of the request
 * was written is re-sent whatever the method; the keep-alive race
 * (stale-connection.ts) only for an idempotent request. At most twice.
 *
 * An instance that speaks HTTP/2 (`http2`, `grpc`) gets the request
 * translated (translate-h1-to-h2.ts) on its pooled HTTP/2 session.
 *
 * Access (when enforced): the destination service's AccessPolicy decides,
 * with the caller's identity from the connection (Exchange.source), before
 * the request is handed to the instance (access-gate.ts).
 *
 * Graceful drain: an instance deregistered from this agent disappears from
 * `local` at once, so new requests for it are answered unknown_instance (the
 * caller retries elsewhere) while requests already handed to it finish.
 */
import { INSTANCE_HEADER, MeshErrorCode, messageOf } from '@weft/shared';
import type { LocalInstance, LocalInstances } from '../contracts.js';
import type { H2SessionPool } from '../http2/session-pool.js';
import type { AccessGate } from './access-gate.js';
import { Deadline } from './deadline.js';
import { sendOnce, type TryOutcome } from './forward.js';
import { answered, type Exchange, type ForwardStrategy, GONE, type MeshFailure, meshFailure, type Verdict } from './forward-strategy.js';
import { type HeadLines, upstreamRequestLines } from './headers.js';
import { failureCode, failureMessage } from './mesh-response.js';
import { NotTranslatable, speaksH2 } from './not-translatable.js';
import type { ProxyMetrics } from './proxy-metrics.js';
import { hasBody, ReplayableBody } from './replay-body.js';
import { inboundPath } from './request-target.js';
import { IDEMPOTENCY_KEY_HEADER, isIdempotentRequest } from './retry-policy.js';
import { sendH1AsH2 } from './translate-h1-to-h2.js';
import { upgradeOf, withUpgrade } from './tunnel-upgrade.js';
import { originOf, type UpstreamPools } from './upstream-pools.js';

export interface InboundStrategyDeps {
  agentId: string;
  local: LocalInstances;
  pools: UpstreamPools;
  metrics: ProxyMetrics;
  maxReplayBodyBytes: number;
  /** Access enforcement (AccessOptions.enforce); undefined = every request is let in. */
  access?: AccessGate;
  /** HTTP/2 sessions to local instances that speak HTTP/2 (translated requests); absent: they get HTTP/1.1. */
  h2Sessions?: H2SessionPool;
}

/** Sends again after a try that never reached the app, at most this many times. */
const RESENDS = 2;

/** Origins of local instances, by instance id (rebuilt when an instance moves): no string building per request. */
interface CachedOrigin {
  address: string;
  port: number;
  origin: string;
}
/** Bound on the origin cache (instance churn must not grow it forever). */
const MAX_CACHED_ORIGINS = 4096;

/**
 * The local instance a peer agent's request names in x-weft-instance (either
 * protocol), with the request's log fields and metrics bucket set from it,
 * or the answer when it names none or one not registered here.
 */
export function localInstanceOf(
  d: { agentId: string; local: LocalInstances; metrics: ProxyMetrics },
  ex: Pick<Exchange, 'fields' | 'metrics'>,
  header: string | undefined,
): LocalInstance | MeshFailure {
  const instanceId = header?.trim();
  if (!instanceId) {
    return meshFailure(MeshErrorCode.badRequest, `${INSTANCE_HEADER}: missing; this port only accepts mesh traffic from Weft agents`);
  }
  ex.fields.instance = instanceId;
  const instance = d.local.get(instanceId);
  if (instance === undefined) {
    return meshFailure(MeshErrorCode.unknownInstance, `instance ${instanceId}: not registered on this host (agent ${d.agentId})`);
  }
  ex.fields.service = instance.service;
  ex.metrics = d.metrics.service('inbound', instance.service);
  return instance;
}

export function inboundStrategy(d: InboundStrategyDeps): ForwardStrategy {
  const origins = new Map<string, CachedOrigin>();
  const poolFor = (instance: LocalInstance): ReturnType<UpstreamPools['get']> => {
    let c = origins.get(instance.instanceId);
    if (c === undefined || c.port !== instance.port || c.address !== instance.address) {
      if (origins.size >= MAX_CACHED_ORIGINS) origins.clear();
      c = { address: instance.address, port: instance.port, origin: originOf(instance.address, instance.port) };
      origins.set(instance.instanceId, c);
    }
    return d.pools.get(c.origin, c.address, c.port);
  };

  const forward = async (ex: Exchange): Promise<Verdict> => {
    const { req } = ex;
    const instance = localInstanceOf(d, ex, req.header(INSTANCE_HEADER));
    if (!('instanceId' in instance)) return instance;
    const instanceId = instance.instanceId;
    const path = inboundPath(req);
    if (typeof path !== 'string') return meshFailure(path.code, path.message);
    if (d.access !== undefined) {
      // The destination's agent decides: a caller cannot skip this check.
      const refused =
        d.access.ready(instance.service) === undefined
          ? d.access.check(instance.service, ex.source, req.method, path, ex.requestId)
          : await d.access.checkWhenReady(instance.service, ex.source, req.method, path, ex.requestId);
      if (refused !== undefined) return refused;
    }

    const head = withUpgrade(
      upstreamRequestLines(req.rawHeaders, {
        clientAddress: req.remoteAddress,
        authority: req.host ?? instance.service,
        requestId: ex.requestId,
        firstHop: false,
        traceparent: ex.traceparent,
      }),
      upgradeOf(req),
    );
    if (d.h2Sessions !== undefined && speaksH2(instance.protocol)) return toH2(ex, instance, path, head, d.h2Sessions);
    let pool: ReturnType<UpstreamPools['get']>;
    try {
      pool = poolFor(instance);
    } catch (err) {
      return meshFailure(MeshErrorCode.shuttingDown, `agent ${d.agentId}: shutting down (${messageOf(err)})`);
    }
    const deadline = new Deadline(ex.budgetMs);
    const body = hasBody(req) ? new ReplayableBody(req, d.maxReplayBodyBytes) : null;
    const idempotent = isIdempotentRequest(req.method, req.header(IDEMPOTENCY_KEY_HEADER));
    let outcome: TryOutcome | undefined;
    for (let i = 0; i <= RESENDS; i++) {
      const stream = body === null ? null : body.nextStream();
      if (stream === undefined) break;
      outcome = await sendOnce(pool, {
        method: req.method,
        path,
        head,
        body: stream,
        // The whole budget for the first try (no clock read), what is left of it for a re-send.
        timeoutMs: i === 0 ? ex.budgetMs : deadline.remainingMs(),
        clientGone: ex.clientGone,
      });
      if (outcome.ok || !(outcome.kind === 'unsent' || (outcome.kind === 'stale' && idempotent))) break;
    }
    if (outcome === undefined) return GONE;
    const what = `service ${instance.service}: instance ${instanceId} at ${instance.address}:${instance.port}`;
    if (!outcome.ok) {
      if (outcome.kind === 'aborted') return GONE;
      return meshFailure(failureCode(outcome.kind), failureMessage(outcome.kind, what, ex.budgetMs, outcome.error));
    }
    // The app's own answer: its x-weft-error (if any) is passed on, never taken as the mesh's.
    return answered(outcome.response, what, '', { service: instance.service, instanceId, localInstance: true });
  };

  /** The request translated to HTTP/2 for an instance that speaks it; re-sent, as above, only when it never went out. */
  const toH2 = async (ex: Exchange, instance: LocalInstance, path: string, head: HeadLines, sessions: H2SessionPool): Promise<Verdict> => {
    const { req } = ex;
    const deadline = new Deadline(ex.budgetMs);
    const body = hasBody(req) ? new ReplayableBody(req, d.maxReplayBodyBytes) : null;
    const what = `service ${instance.service}: instance ${instance.instanceId} at ${instance.address}:${instance.port}`;
    let outcome: TryOutcome | undefined;
    for (let i = 0; i <= RESENDS; i++) {
      if (i > 0 && body !== null && !body.replayable) break;
      outcome = await sendH1AsH2({
        sessions,
        key: originOf(instance.address, instance.port),
        host: instance.address,
        port: instance.port,
        method: req.method,
        path,
        head,
        body,
        timeoutMs: i === 0 ? ex.budgetMs : deadline.remainingMs(),
        clientGone: ex.clientGone,
      });
      if (outcome.ok || outcome.kind !== 'unsent') break;
    }
    if (outcome === undefined) return GONE;
    if (!outcome.ok) {
      if (outcome.kind === 'aborted') return GONE;
      if (outcome.error instanceof NotTranslatable) return meshFailure(outcome.error.code, `${what}: ${outcome.error.message}`);
      return meshFailure(failureCode(outcome.kind), failureMessage(outcome.kind, what, ex.budgetMs, outcome.error));
    }
    return answered(outcome.response, what, '', { service: instance.service, instanceId: instance.instanceId, localInstance: true });
  };
  return { forward };
}
