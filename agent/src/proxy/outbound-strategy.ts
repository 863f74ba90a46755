/**
 * Outbound: a local app calls a service (forward-proxy or Host form). Per
 * request: parse the target, consult the traffic policy (which may answer
 * by itself), resolve the service, admit it through the circuit breaker,
 * then pick-and-try with retries on a different endpoint; each try goes
 * straight to an instance on this host or to the owning agent's inbound
 * listener with x-weft-instance. The pipeline (pipeline.ts) answers.
 *
 * With access enforced, a try to an instance on this host runs the
 * destination's access check first (the inbound listener, which checks
 * mesh traffic, is not on that path); a refusal ends the request with
 * 403 forbidden, never a retry elsewhere.
 *
 * An instance on this host that speaks HTTP/2 (`http2`, `grpc`) gets the
 * request translated (translate-h1-to-h2.ts); one behind a peer agent gets
 * it as HTTP/1.1 and that agent translates.
 *
 * Each try is load tracking ( outlier detection ( send to endpoint ) ),
 * folded into one async step: the try counts as active until its body
 * closes, and its outcome feeds the outlier detector as soon as it is known,
 * before the retry loop sees it.
 */
import { type Endpoint, INSTANCE_HEADER, type Logger, MeshError, MeshErrorCode } from '@weft/shared';
import type { ExternalSource } from '../contracts.js';
import type { H2SessionPool } from '../http2/session-pool.js';
import type { AccessGate } from './access-gate.js';
import { type Attempt, sendOnce, settledFailure, type TryOutcome, type TrySend } from './forward.js';
import { answered, type Exchange, type ForwardStrategy, GONE, meshFailure, type Verdict } from './forward-strategy.js';
import { TIMEOUT_HEADER } from './headers.js';
import type { LoadTracker } from './load-tracker.js';
import { speaksH2 } from './not-translatable.js';
import { externalForwarder } from './outbound-external.js';
import {
  callDeadline,
  destinationOf,
  failedTry,
  LocalAccessCheck,
  noHealthyEndpoint,
  outboundAttempt,
  trackTry,
  unresolved,
} from './outbound-steps.js';
import type { OutlierDetector } from './outlier-detector.js';
import { believedMeshCode } from './peer-answer.js';
import { parseRequestTarget } from './request-target.js';
import { runWithRetries } from './retry-policy.js';
import { type RoutePolicy, RULE_HEADER } from './route-policy.js';
import type { Route, Router } from './router.js';
import type { ServiceResilienceMap } from './service-resilience.js';
import { sleep } from './sleep.js';
import { sendH1AsH2 } from './translate-h1-to-h2.js';
import { meshPoolKey, originOf, peerKeyOf, type UpstreamKind, type UpstreamPools } from './upstream-pools.js';

export interface OutboundStrategyDeps {
  agentId: string;
  logger: Logger;
  router: Router;
  pools: UpstreamPools;
  tracker: LoadTracker;
  detector: OutlierDetector;
  services: ServiceResilienceMap;
  maxReplayBodyBytes: number;
  policy: RoutePolicy | undefined;
  /** Access enforcement for instances on this host (AccessOptions.enforce); undefined = not checked here. */
  access?: AccessGate;
  /** Hosts outside the mesh declared by ExternalService documents; none when absent. */
  externals?: ExternalSource;
  /** True for host:port of this listener itself (outbound-external.ts). */
  isSelf?: (host: string, port: number) => boolean;
  /** HTTP/2 sessions to local instances that speak HTTP/2 (translate-h1-to-h2.ts); absent: such tries are sent as HTTP/1.1. */
  h2Sessions?: H2SessionPool;
}

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

/** The innermost try: local instances directly, remote ones through their agent's inbound listener. */
function sendToEndpoint(pools: UpstreamPools, agentId: string, h2Sessions: H2SessionPool | undefined) {
  /** Origins by endpoint object (endpoints are immutable and live as long as their snapshot): built once, not per try. */
  const origins = new WeakMap<
    Endpoint,
    {
      key: string;
      address: string;
      port: number;
      bySource?: Map<string, string>;
      /** A peer's: the instance line and the timeout field's name, the start of the try's mesh lines. */
      meshLines: string;
      /** A peer's pool kind for calls without a source service (get()'s last argument, one object per endpoint). */
      kind?: UpstreamKind;
    }
  >();
  return (endpoint: Endpoint, attempt: Attempt, onOutcome: (outcome: TryOutcome) => void): Promise<TryOutcome> => {
    const local = endpoint.agentId === agentId;
    const timeoutMs = attempt.tryTimeoutMs;
    let origin = origins.get(endpoint);
    if (origin === undefined) {
      const address = local ? endpoint.address : endpoint.agentAddress;
      const port = local ? endpoint.port : endpoint.agentPort;
      // A peer pool per (agent, destination service): the service is the SNI that picks the certificate the peer presents.
      const key = local ? originOf(address, port) : meshPoolKey(peerKeyOf(originOf(address, port), endpoint.agentId), endpoint.service);
      origin = {
        key,
        address,
        port,
        meshLines: local ? '' : `${INSTANCE_HEADER}: ${endpoint.instanceId}\r\n${TIMEOUT_HEADER}: `,
        kind: local ? undefined : { peer: endpoint.agentId, service: endpoint.service },
      };
      origins.set(endpoint, origin);
    }
    if (local && h2Sessions !== undefined && speaksH2(endpoint.protocol)) {
      return sendH1AsH2({
        sessions: h2Sessions,
        key: origin.key,
        host: origin.address,
        port: origin.port,
        method: attempt.method,
        path: attempt.path,
        head: attempt.head,
        body: attempt.body,
        timeoutMs,
        clientGone: attempt.clientGone,
        onOutcome,
      });
    }
    // ... and per local source service (the client certificate presented): a caller with a proxy credential gets its own pool.
    const source = local ? undefined : attempt.sourceService;
    let key = origin.key;
    if (source !== undefined) {
      origin.bySource ??= new Map();
      let k = origin.bySource.get(source);
      if (k === undefined) {
        k = `${origin.key} ${source}`;
        origin.bySource.set(source, k);
      }
      key = k;
    }
    // The mesh control headers go to a peer agent only: which instance, and how long the caller waits for this try.
    const extraLines = local ? '' : `${origin.meshLines}${timeoutText(timeoutMs)}\r\n`;
    let pool: ReturnType<UpstreamPools['get']>;
    try {
      pool = pools.get(
        key,
        origin.address,
        origin.port,
        local ? undefined : source === undefined ? origin.kind : { peer: endpoint.agentId, service: endpoint.service, source },
      );
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
      viaPeer: !local,
      onOutcome,
    });
  };
}

export function outboundStrategy(d: OutboundStrategyDeps): ForwardStrategy {
  const sendDirect = sendToEndpoint(d.pools, d.agentId, d.h2Sessions);
  const external = externalForwarder(d);
  const send: TrySend = (endpoint, attempt) => sendDirect(endpoint, attempt, trackTry(d, endpoint, attempt.serviceSize));

  const forward = async (ex: Exchange): Promise<Verdict> => {
    const { req, res } = ex;
    const target = parseRequestTarget(req);
    if (target instanceof MeshError) return meshFailure(target.code, target.message);
    // A host that cannot be a service name (api.example.com, 10.0.0.7) can only be an ExternalService.
    if (target.service === null) return external(ex, target);
    const { service } = target;
    ex.fields.service = service;
    // Traffic policy: one Map lookup when the service has none; may answer by itself (rate limit, fault, redirect, direct).
    const plan = d.policy?.decide(service, req.method, target.path, req, target.authority) ?? null;
    if (plan?.respond) return { kind: 'policy', answer: plan };
    if (plan) res.setHeader(RULE_HEADER, plan.rule.label);
    const deadline = callDeadline(ex.budgetMs, plan);
    if (plan?.delayMs) await sleep(plan.delayMs, ex.clientGone);

    let route: Route;
    try {
      const r = d.router.route(plan ? plan.destination.service : service);
      // Known services resolve without a promise: no await (and no microtask) for them.
      route = r instanceof Promise ? await r : r;
    } catch (err) {
      // Not a mesh service: perhaps a declared ExternalService by that host (localhost, an intranet name).
      if (err instanceof MeshError && err.code === MeshErrorCode.unknownService && plan === null)
        return external(ex, target, `service ${service}: ${err.message}`);
      return unresolved(service, err);
    }
    if (ex.clientGone.aborted) return GONE;

    const dest = destinationOf(d, ex, route, plan, req, service);
    if ('kind' in dest) return dest;
    const { svc, candidates, hashKey } = dest;
    const attempt = outboundAttempt(ex, target, plan, {
      clientAddress: req.remoteAddress,
      serviceSize: candidates.endpoints.length,
      deadline,
      maxReplayBodyBytes: d.maxReplayBodyBytes,
    });
    // A try to an instance on this host skips the inbound listener, so its access check runs here, once per request.
    const local = d.access && new LocalAccessCheck(d.access, d.agentId, route.service, ex.source, req.method, ex.requestId);
    const sendChecked: TrySend =
      local === undefined
        ? send
        : (endpoint, a) =>
            local.refuses(endpoint, a.path) ? settledFailure('refused', new Error(local.denied?.message)) : send(endpoint, a);
    // Inline, not a helper: one promise less per request on the hot path.
    let result: Awaited<ReturnType<typeof runWithRetries>>;
    try {
      result = await runWithRetries((exclude) => candidates.picker.pick({ exclude, hashKey }), sendChecked, attempt, svc, plan?.rule.retry);
    } finally {
      svc.breaker.leavePending();
    }
    const { endpoint, outcome } = result;
    if (endpoint === undefined || outcome === undefined)
      return noHealthyEndpoint(route.service, plan?.destination.tags, candidates.endpoints);
    ex.fields.instance = endpoint.instanceId;
    if (result.tries > 1) ex.fields.tries = result.tries;
    const what = `service ${service}: ${describeEndpoint(endpoint, d.agentId)}`;
    if (!outcome.ok) {
      if (outcome.kind === 'refused' && local?.denied !== undefined) return local.denied;
      return failedTry(outcome, what, attempt);
    }
    if (plan?.rule.source.responseHeaders !== undefined) d.policy?.editResponseHeaders(plan, outcome.response.headers);
    return answered(outcome.response, what, believedMeshCode(outcome.response), {
      service: route.service,
      instanceId: endpoint.instanceId,
      localInstance: endpoint.agentId === d.agentId,
    });
  };
  return { forward };
}
