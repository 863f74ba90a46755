/**
 * The outbound listener (loopback): local apps call services through it,
 * either as an HTTP forward proxy or with `Host: <service>`. Per request:
 * parse the target, resolve the service, then pick-and-try with retries on a
 * different endpoint; each try goes either straight to an instance on this
 * host or to the owning agent's inbound listener with x-weft-instance.
 * Each try is load tracking ( outlier detection ( send to endpoint ) ),
 * folded into one async step, and the response body streams back to the
 * app as it arrives.
 * Per destination service (service-resilience.ts): circuit breaking on admission,
 * a retry budget and per-try timeouts in the retry loop, and metrics.
 * The traffic policy (agent/src/policy) supplies, per request, the matched
 * rule's deadline, retry and per-try timeout, and per service the
 * load-balancing policy (with the request's hash key) and the circuit-breaker
 * and outlier-detection overrides of its ServicePolicy.
 */
import type { Socket } from 'node:net';
import {
  type Endpoint,
  ERROR_HEADER,
  INSTANCE_HEADER,
  MeshError,
  MeshErrorCode,
  MetricsRegistry,
  messageOf,
  REQUEST_ID_HEADER,
} from '@weft/shared';
import type { Listener, ProxyOptions } from '../contracts.js';
import type { Http1Request, Http1Response } from '../http1/server-message.js';
import { faultDelay, type OutboundPolicy, RULE_HEADER, sendPolicyResponse } from '../policy/policy-outbound.js';
import { Deadline, requestBudgetMs } from './deadline.js';
import { type Attempt, responseHeader, sendOnce, settledFailure, streamResponse, type TryOutcome, type TrySend } from './forward.js';
import { requestIdOf, TIMEOUT_HEADER, upstreamRequestLines } from './headers.js';
import { hashKeyOf, LEAST_REQUEST } from './lb-policies.js';
import { describeHealth, getLbPolicy } from './lb-policy.js';
import { type RequestContext, startListenerServer } from './listener-server.js';
import { LoadTracker } from './load-tracker.js';
import { failureCode, failureMessage, releaseRequestBody, sendMeshError, writeRawMeshError } from './mesh-response.js';
import { OutlierDetector, verdictOf } from './outlier-detector.js';
import { ProxyMetrics } from './proxy-metrics.js';
import { hasBody, ReplayableBody } from './replay-body.js';
import { RequestLog } from './request-log.js';
import { parseRequestTarget } from './request-target.js';
import { type ListenerLimits, type ResilienceOptions, resolveResilience } from './resilience-options.js';
import { runWithRetries } from './retry-policy.js';
import { type Route, Router } from './router.js';
import { type ServiceResilience, ServiceResilienceMap } from './service-resilience.js';
import { originOf, UpstreamPools } from './upstream-pools.js';

export type OutboundOptions = ProxyOptions & {
  host: string;
  port: number;
  /** Defaults in resilience-options.ts. */
  resilience?: Partial<ResilienceOptions>;
  limits?: Partial<ListenerLimits>;
  /** Shared with the inbound listener and the admin API's /metrics; a private registry when absent. */
  metrics?: ProxyMetrics;
  /** The traffic policy (agent/src/policy), consulted once per request before an endpoint is picked. */
  policy?: OutboundPolicy;
};

/** "instance orders-1 at 127.0.0.1:8080" or "instance orders-1 via agent b (10.0.0.2:15006)". */
export function describeEndpoint(endpoint: Endpoint, agentId: string): string {
  return endpoint.agentId === agentId
    ? `instance ${endpoint.instanceId} at ${endpoint.address}:${endpoint.port}`
    : `instance ${endpoint.instanceId} via agent ${endpoint.agentId} (${endpoint.agentAddress}:${endpoint.agentPort})`;
}

/** The x-weft-timeout-ms value of the last try, kept as a string (nearly every try sends the same per-try timeout). */
let lastTimeoutMs = -1;
let lastTimeoutText = '';

function timeoutText(ms: number): string {
  const whole = Math.ceil(ms);
  if (whole !== lastTimeoutMs) {
    lastTimeoutMs = whole;
    lastTimeoutText = String(whole);
  }
  return lastTimeoutText;
}

/** A try whose outcome is also handed to `onOutcome` (synchronously, before the promise resolves). */
type HookedSend = (endpoint: Endpoint, attempt: Attempt, onOutcome: (outcome: TryOutcome) => void) => Promise<TryOutcome>;

/** The innermost try: local instances directly, remote ones through their agent's inbound listener. */
function sendToEndpoint(pools: UpstreamPools, agentId: string): HookedSend {
  /** Origins by endpoint object (endpoints are immutable and live as long as their snapshot): built once, not per try. */
  const origins = new WeakMap<Endpoint, { key: string; address: string; port: number }>();
  return (endpoint, attempt, onOutcome) => {
    const local = endpoint.agentId === agentId;
    const timeoutMs = attempt.tryTimeoutMs;
    // The instance itself when local, else its agent's inbound listener.
    let origin = origins.get(endpoint);
    if (origin === undefined) {
      const address = local ? endpoint.address : endpoint.agentAddress;
      const port = local ? endpoint.port : endpoint.agentPort;
      origin = { key: originOf(address, port), address, port };
      origins.set(endpoint, origin);
    }
    // The mesh control headers go to a peer agent only: which instance, and how long the caller waits for this try.
    const extraLines = local ? '' : `${INSTANCE_HEADER}: ${endpoint.instanceId}\r\n${TIMEOUT_HEADER}: ${timeoutText(timeoutMs)}\r\n`;
    let pool: ReturnType<UpstreamPools['get']>;
    try {
      pool = pools.get(origin.key, origin.address, origin.port);
    } catch (error) {
      return settledFailure('reset', error, onOutcome);
    }
    const body = attempt.body === null ? null : attempt.body.nextStream();
    if (body === undefined) return settledFailure('aborted', new Error('request body can no longer be replayed'), onOutcome);
    return sendOnce(pool, {
      method: attempt.method,
      path: attempt.path,
      head: attempt.head,
      extraLines,
      body,
      timeoutMs,
      clientGone: attempt.clientGone,
      onOutcome,
    });
  };
}

/** The request's destination once resolved, and whether the circuit breaker admitted it (it must then leave exactly once). */
interface Admission {
  svc: ServiceResilience | undefined;
  admitted: boolean;
}

export async function startOutboundListener(opts: OutboundOptions): Promise<Listener> {
  const logger = opts.logger.child({ listener: 'outbound' });
  /** Per-request lines, bounded per (message, code, service): request-log.ts. */
  const requestLog = new RequestLog(logger);
  const pools = new UpstreamPools();
  const tracker = new LoadTracker();
  const resilience = resolveResilience(opts.resilience);
  const metrics = opts.metrics ?? new ProxyMetrics(new MetricsRegistry());
  const detector = new OutlierDetector(resilience);
  const services = new ServiceResilienceMap(resilience, metrics, logger, detector);
  /** Requests that never got to a service (bad target, unknown service): one bucket, bounded cardinality. */
  const unresolved = metrics.service('outbound', '-');
  metrics.watchEjected(() => detector.ejectedByService());
  const router = new Router(
    opts.endpoints,
    getLbPolicy(LEAST_REQUEST),
    { active: (id) => tracker.active(id), isEjected: (id) => detector.isEjected(id) },
    (service) => opts.policy?.view.get(service)?.lb?.policy,
  );
  opts.policy?.setLoad({ active: (id) => tracker.active(id), isEjected: (id) => detector.isEjected(id) });
  const sendDirect = sendToEndpoint(pools, opts.agentId);
  const onEject = (endpoint: Endpoint, ms: number): void => {
    services.get(endpoint.service).metrics.ejected();
    logger.warn('endpoint ejected', { service: endpoint.service, instance: endpoint.instanceId, ejectMs: ms });
  };
  /**
   * withLoadTracking(withOutlierDetection(sendToEndpoint)) folded into the
   * try itself (each wrapper layer would cost a promise per try on the hot
   * path): the try counts as active until its body closes, and its outcome
   * feeds the detector as soon as it is known, before the retry loop sees it.
   */
  const send: TrySend = (endpoint, attempt) => {
    const done = tracker.start(endpoint.instanceId);
    return sendDirect(endpoint, attempt, (outcome) => {
      try {
        const ms = detector.record(verdictOf(outcome), endpoint.instanceId, endpoint.service, attempt.serviceSize);
        if (ms > 0) onEject(endpoint, ms);
      } catch (err) {
        // Bookkeeping must never break the try itself (this runs inside the upstream client's callbacks).
        logger.error('outlier bookkeeping failed', { service: endpoint.service, instance: endpoint.instanceId, err: messageOf(err) });
      }
      if (outcome.ok) outcome.response.body.whenClosed(done);
      else done();
    });
  };

  const handler = async (req: Http1Request, res: Http1Response, ctx: RequestContext): Promise<void> => {
    const startedAt = performance.now();
    const admission: Admission = { svc: undefined, admitted: false };
    /** The x-weft-error code of the answer ('' for the app's own), for the metrics. */
    let errorCode = '';
    try {
      errorCode = await handle(req, res, ctx, admission);
    } finally {
      if (admission.admitted) admission.svc?.breaker.leave();
      (admission.svc?.metrics ?? unresolved).request(res.headersSent ? res.statusCode : 0, errorCode, startedAt);
    }
  };

  /** Answers one request; returns its x-weft-error code ('' for an app answer). */
  const handle = async (req: Http1Request, res: Http1Response, ctx: RequestContext, admission: Admission): Promise<string> => {
    const requestId = requestIdOf(req.header(REQUEST_ID_HEADER));
    const fail = (code: MeshErrorCode, message: string, fields: Record<string, unknown> = {}): string => {
      requestLog.log('request failed', code, { requestId, ...fields, detail: message });
      releaseRequestBody(req, res);
      sendMeshError(res, code, message, requestId);
      return code;
    };

    const target = parseRequestTarget(req);
    if (target instanceof MeshError) return fail(target.code, target.message);
    const { service } = target;
    const budgetMs = requestBudgetMs(req.header(TIMEOUT_HEADER), opts.requestTimeoutMs);
    if (budgetMs instanceof MeshError) return fail(budgetMs.code, budgetMs.message, { service });
    // Traffic policy: one Map lookup when the service has none; may answer by itself (rate limit, fault, redirect, direct).
    const plan = opts.policy?.decide(service, req.method, target.path, req, target.authority) ?? null;
    if (plan?.respond) {
      requestLog.log('policy answered', plan.code, { service, rule: plan.ruleId, status: plan.status, requestId });
      releaseRequestBody(req, res);
      sendPolicyResponse(res, plan, requestId);
      return plan.code;
    }
    if (plan) res.setHeader(RULE_HEADER, plan.rule.id);
    const deadline = new Deadline(plan?.rule.timeoutMs ? Math.min(budgetMs, plan.rule.timeoutMs) : budgetMs);
    if (plan?.delayMs) await faultDelay(plan.delayMs, ctx.clientGone);

    let route: Route;
    try {
      const r = router.route(plan ? plan.destination.service : service);
      // Known services resolve without a promise: no await (and no microtask) for them.
      route = r instanceof Promise ? await r : r;
    } catch (err) {
      if (err instanceof MeshError) return fail(err.code, `service ${service}: ${err.message}`, { service });
      return fail(MeshErrorCode.controlPlaneUnavailable, `service ${service}: cannot resolve endpoints (${messageOf(err)})`, { service });
    }
    if (ctx.clientGone.aborted) return 'client_gone';

    // The destination service's own policy: LB hash key, circuit-breaker and outlier overrides.
    const servicePolicy = opts.policy?.view.get(route.service);
    const svc = services.get(route.service, servicePolicy?.overrides);
    admission.svc = svc;
    const limit = svc.breaker.enter();
    if (limit !== undefined) {
      svc.metrics.circuitOpen(limit);
      return fail(MeshErrorCode.circuitOpen, svc.breaker.describe(service, limit), { service, limit });
    }
    admission.admitted = true;
    // A weighted destination may name instance tags: pick within that subset only.
    const candidates = plan && opts.policy ? opts.policy.subset(route.endpoints, plan.destination, route.picker, route.lb) : route;
    const hashOn = servicePolicy?.lb?.hashOn;
    const hashKey = hashOn === undefined ? undefined : hashKeyOf(req.headers, hashOn);

    // A matched rule's request header edits (set / remove) apply to the lines as they are built.
    const edits = plan?.rule.source.requestHeaders;
    const head = upstreamRequestLines(req.rawHeaders, {
      clientAddress: req.remoteAddress,
      authority: target.authority,
      requestId,
      firstHop: true,
      set: edits?.set,
      remove: edits?.remove,
    });
    const attempt: Attempt = {
      method: req.method,
      path: plan ? plan.path : target.path,
      head,
      body: hasBody(req) ? new ReplayableBody(req, resilience.maxReplayBodyBytes) : null,
      serviceSize: candidates.endpoints.length,
      deadline,
      tryTimeoutMs: 0,
      clientGone: ctx.clientGone,
    };
    let result: Awaited<ReturnType<typeof runWithRetries>>;
    try {
      result = await runWithRetries((exclude) => candidates.picker.pick({ exclude, hashKey }), send, attempt, svc, plan?.rule.retry);
    } finally {
      svc.breaker.leavePending();
    }

    const { endpoint, outcome } = result;
    if (endpoint === undefined || outcome === undefined) {
      const subset = plan?.destination.tags.length ? ` with tags ${plan.destination.tags.join(', ')}` : '';
      const why = `service ${route.service}${subset}: no healthy endpoint (${describeHealth(candidates.endpoints)})`;
      return fail(MeshErrorCode.noHealthyEndpoint, why, { service });
    }
    if (!outcome.ok) {
      if (outcome.kind === 'aborted') {
        logger.debug('client went away', { service, instance: endpoint.instanceId, requestId });
        return 'client_gone';
      }
      const what = `service ${service}: ${describeEndpoint(endpoint, opts.agentId)}`;
      const waitedMs = outcome.kind === 'timeout' && !deadline.expired ? attempt.tryTimeoutMs : deadline.budgetMs;
      return fail(failureCode(outcome.kind), failureMessage(outcome.kind, what, waitedMs, outcome.error), {
        service,
        instance: endpoint.instanceId,
        tries: result.tries,
      });
    }
    const peerCode = responseHeader(outcome.response, ERROR_HEADER);
    if (plan?.rule.source.responseHeaders !== undefined) opts.policy?.editResponseHeaders(plan, outcome.response.headers);
    try {
      // Undefined when the answer was complete already: no await (a microtask) then.
      const streaming = streamResponse(res, outcome.response, requestId);
      if (streaming !== undefined) await streaming;
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
      requestLog.log('response stream ended early', code, { service, instance: endpoint.instanceId, requestId, err: messageOf(err) });
      return code;
    }
    return peerCode === undefined ? '' : String(peerCode);
  };

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
    handler,
    limits: opts.limits,
    onConnect: rejectConnect,
    onClosed: (graceful) => {
      requestLog.close();
      return pools.close(graceful);
    },
  });
}
