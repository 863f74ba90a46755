/**
 * Outbound for HTTP/2 and gRPC: a local app calls `<service>` over h2c
 * (`:authority` names the service). The same steps as outbound-strategy.ts
 * — traffic policy (`decide()` with method, path and headers, so Routes
 * match gRPC by `/pkg.Service/Method`), router, circuit breaker, load
 * balancing, outlier detection, the retry loop of retry-policy.ts — with
 * each try an HTTP/2 stream (h2-forward.ts) on the pooled session of the
 * peer agent that owns the picked instance (one session per peer agent,
 * every call multiplexed on it), or of the local instance itself.
 *
 * An instance that speaks HTTP/1.1 (`protocol: http`) gets a plain HTTP/2
 * request translated by the agent that owns it: here for a local instance
 * (translate-h2-to-h1.ts), else the peer agent (the mesh hop stays HTTP/2).
 * A gRPC call to it cannot be carried faithfully and is refused
 * (protocol_not_translatable, gRPC UNIMPLEMENTED); so is any call to a
 * `tcp` instance (upstream_protocol_error). not-translatable.ts decides.
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { type Endpoint, INSTANCE_HEADER, type Logger, MeshError, MeshErrorCode, meshHttpStatus } from '@weft/shared';
import type { ClientTls } from '../http1/client-connection.js';
import type { H2SessionPool } from '../http2/session-pool.js';
import type { AccessGate } from './access-gate.js';
import { type Attempt, settledFailure, type TrySend } from './forward.js';
import { meshFailure } from './forward-strategy.js';
import { formatGrpcTimeout, GRPC_TIMEOUT_HEADER } from './grpc-status.js';
import { H2ReplayBody } from './h2-body.js';
import { H2Response, sendH2Once } from './h2-forward.js';
import { h2UpstreamRequestHeaders } from './h2-headers.js';
import { headerValue, meshAnswer } from './h2-mesh-answer.js';
import { type HeadLines, TIMEOUT_HEADER } from './headers.js';
import type { LoadTracker } from './load-tracker.js';
import type { MeshTls } from './mesh-tls.js';
import { h2Refusal, NotTranslatable, speaksH2 } from './not-translatable.js';
import { callDeadline, destinationOf, failedTry, LocalAccessCheck, noHealthyEndpoint, trackTry, unresolved } from './outbound-steps.js';
import { describeEndpoint } from './outbound-strategy.js';
import type { OutlierDetector } from './outlier-detector.js';
import { believedMeshCode } from './peer-answer.js';
import type { H2Exchange, H2Strategy, H2Verdict } from './pipeline-h2.js';
import { type LocalCallers, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, ProxyAuthError } from './proxy-auth.js';
import { hostFromAuthority } from './request-target.js';
import { IDEMPOTENCY_KEY_HEADER, isIdempotentRequest, runWithRetries } from './retry-policy.js';
import { type RoutePolicy, RULE_HEADER } from './route-policy.js';
import type { Route, Router } from './router.js';
import type { ServiceResilienceMap } from './service-resilience.js';
import { sleep } from './sleep.js';
import { h1HeadOfH2, sendH2AsH1 } from './translate-h2-to-h1.js';
import { meshPoolKey, originOf, peerKeyOf, type UpstreamPools } from './upstream-pools.js';

export interface H2OutboundDeps {
  agentId: string;
  logger: Logger;
  router: Router;
  sessions: H2SessionPool;
  tracker: LoadTracker;
  detector: OutlierDetector;
  services: ServiceResilienceMap;
  maxReplayBodyBytes: number;
  policy: RoutePolicy | undefined;
  /** Who a local caller is, from its proxy credential on the stream (proxy-auth.ts); absent: not read. */
  callers?: LocalCallers;
  /** Access enforcement for an instance on this host (the request never crosses an inbound listener then). */
  access?: AccessGate;
  /** mTLS to peer agents, as the HTTP/1.1 pools (mesh-tls.ts); absent: h2c (--insecure). */
  meshTls?: MeshTls;
  /** HTTP/1.1 pools, for local instances that speak HTTP/1.1 (translate-h2-to-h1.ts); absent: such calls are refused. */
  pools?: UpstreamPools;
}

export { speaksH2 };

const NO_HEAD = { lines: '', hasLength: false };

export function h2OutboundStrategy(d: H2OutboundDeps): H2Strategy {
  type Origin = { key: string; host: string; port: number; tls?: ClientTls; bySource?: Map<string, Origin> };
  const origins = new WeakMap<Endpoint, Origin>();
  const originFor = (endpoint: Endpoint, local: boolean, source: string | undefined): Origin => {
    let o = origins.get(endpoint);
    if (o === undefined) {
      const host = local ? endpoint.address : endpoint.agentAddress;
      const port = local ? endpoint.port : endpoint.agentPort;
      if (local || d.meshTls === undefined) o = { key: originOf(host, port), host, port };
      else {
        // A peer agent over mTLS: a session per (agent, destination service) as the HTTP/1.1 pools; the peer checked at the handshake.
        const key = meshPoolKey(peerKeyOf(originOf(host, port), endpoint.agentId), endpoint.service);
        o = { key, host, port, tls: d.meshTls.clientFor(key, endpoint.agentId, { service: endpoint.service }) };
      }
      origins.set(endpoint, o);
    }
    if (source === undefined || o.tls === undefined || d.meshTls === undefined) return o;
    // A local caller with a proxy credential: its own session, presenting its service's certificate.
    o.bySource ??= new Map();
    let s = o.bySource.get(source);
    if (s === undefined) {
      const key = meshPoolKey(peerKeyOf(originOf(o.host, o.port), endpoint.agentId), endpoint.service, source);
      s = { key, host: o.host, port: o.port, tls: d.meshTls.clientFor(key, endpoint.agentId, { service: endpoint.service, source }) };
      o.bySource.set(source, s);
    }
    return s;
  };

  const forward = async (ex: H2Exchange): Promise<H2Verdict> => {
    const h = ex.headers;
    const method = String(h[':method'] ?? 'GET');
    const path = String(h[':path'] ?? '/');
    const authority = String(h[':authority'] ?? h.host ?? '');
    const target = hostFromAuthority(authority, ':authority');
    if (target instanceof MeshError) return meshFailure(target.code, target.message);
    // HTTP/2 to hosts outside the mesh (ExternalService) is not carried: only mesh services.
    if (target.service === null) {
      return meshFailure(
        MeshErrorCode.unknownService,
        `:authority ${JSON.stringify(target.host)}: not a mesh service (HTTP/2 to outside hosts is not carried)`,
      );
    }
    const service = target.service;
    ex.fields.service = service;
    // The caller, from its proxy credential (proxy-auth.ts); a wrong one is answered 407 (gRPC: UNAUTHENTICATED).
    const who = d.callers?.identify(headerValue(h[PROXY_AUTHORIZATION]));
    if (who instanceof ProxyAuthError) return { kind: 'policy', answer: meshAnswer(who.code, 407, who.message, PROXY_AUTHENTICATE) };
    ex.source = who;
    const sourceService = who?.service;
    const plan = d.policy?.decide(service, method, path, { headers: h }, authority) ?? null;
    if (plan?.respond) return { kind: 'policy', answer: plan };
    if (plan) ex.answerFields = { [RULE_HEADER]: plan.rule.label };
    const deadline = callDeadline(ex.budgetMs, plan);
    // A gRPC call: a deadline the app (x-weft-timeout-ms) or the operator (the rule's timeout) set holds for the whole call (pipeline-h2.ts).
    if (ex.grpc && (h[TIMEOUT_HEADER] !== undefined || plan?.rule.timeoutMs)) ex.meshCallDeadline = deadline;
    if (plan?.delayMs) await sleep(plan.delayMs, ex.clientGone);

    let route: Route;
    try {
      const r = d.router.route(plan ? plan.destination.service : service);
      route = r instanceof Promise ? await r : r;
    } catch (err) {
      return unresolved(service, err);
    }
    if (ex.clientGone.aborted) return { kind: 'gone' };

    const dest = destinationOf(d, ex, route, plan, ex, service);
    if ('kind' in dest) return dest;
    const { svc, candidates, hashKey } = dest;
    const sentPath = plan ? plan.path : path;

    const base = h2UpstreamRequestHeaders(h, {
      method,
      path: sentPath,
      authority,
      requestId: ex.requestId,
      clientAddress: ex.clientAddress,
      traceparent: ex.traceparent,
      edits: plan?.rule.source.requestHeaders,
    });
    const body = ex.stream.endAfterHeaders ? null : new H2ReplayBody(ex.stream, d.maxReplayBodyBytes, ex.grpc);
    ex.requestBody = body ?? undefined;
    const attempt: Attempt = {
      method,
      path,
      head: NO_HEAD,
      body,
      idempotent: isIdempotentRequest(method, typeof h[IDEMPOTENCY_KEY_HEADER] === 'string' ? h[IDEMPOTENCY_KEY_HEADER] : undefined),
      serviceSize: candidates.endpoints.length,
      deadline,
      tryTimeoutMs: 0,
      perTryCapped: false,
      clientGone: ex.clientGone,
    };

    let tries = 0;
    // A try to an instance on this host skips the inbound listener, so its access check runs here, once per request.
    const access = d.access && new LocalAccessCheck(d.access, d.agentId, route.service, who, method, ex.requestId);
    let h1Head: HeadLines | undefined;
    const send: TrySend = (endpoint, a) => {
      if (access?.refuses(endpoint, sentPath)) return settledFailure('refused', new Error(access.denied?.message));
      const onOutcome = trackTry(d, endpoint, a.serviceSize);
      const local = endpoint.agentId === d.agentId;
      if (!speaksH2(endpoint.protocol)) {
        const refusal = h2Refusal(endpoint.protocol, ex.grpc);
        if (refusal !== undefined) return settledFailure('invalid', refusal, onOutcome);
        if (local) {
          if (d.pools === undefined)
            return settledFailure('invalid', new NotTranslatable(MeshErrorCode.upstreamProtocolError, 'no HTTP/1.1 pool here'), onOutcome);
          let pool: ReturnType<UpstreamPools['get']>;
          try {
            pool = d.pools.get(originOf(endpoint.address, endpoint.port), endpoint.address, endpoint.port);
          } catch (err) {
            return settledFailure('reset', err, onOutcome);
          }
          h1Head ??= h1HeadOfH2(h, {
            clientAddress: ex.clientAddress,
            authority,
            requestId: ex.requestId,
            firstHop: true,
            traceparent: ex.traceparent,
            set: plan?.rule.source.requestHeaders?.set,
            remove: plan?.rule.source.requestHeaders?.remove,
          });
          return sendH2AsH1(pool, {
            method,
            path: sentPath,
            head: h1Head,
            body,
            timeoutMs: a.tryTimeoutMs,
            clientGone: ex.clientGone,
            onOutcome,
          });
        }
      }
      const o = originFor(endpoint, local, sourceService);
      // The first try sends `base` itself (no copy per call); a retry sends a copy with its own mesh fields.
      const headers: OutgoingHttpHeaders = tries++ === 0 ? base : { ...base };
      if (ex.callDeadline !== undefined) headers[GRPC_TIMEOUT_HEADER] = formatGrpcTimeout(ex.callDeadline.remainingMs());
      if (!local) {
        headers[INSTANCE_HEADER] = endpoint.instanceId;
        headers[TIMEOUT_HEADER] = String(Math.ceil(a.tryTimeoutMs));
      } else if (headers[INSTANCE_HEADER] !== undefined) {
        // An earlier try went through a peer agent; this one goes straight to a local instance.
        delete headers[INSTANCE_HEADER];
        delete headers[TIMEOUT_HEADER];
      }
      return sendH2Once({
        pool: d.sessions,
        key: o.key,
        host: o.host,
        port: o.port,
        tls: o.tls,
        headers,
        body,
        timeoutMs: a.tryTimeoutMs,
        clientGone: ex.clientGone,
        viaPeer: !local,
        onOutcome,
      });
    };

    // Inline, not a helper: one promise less per request on the hot path.
    let result: Awaited<ReturnType<typeof runWithRetries>>;
    try {
      result = await runWithRetries((exclude) => candidates.picker.pick({ exclude, hashKey }), send, attempt, svc, plan?.rule.retry);
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
      const denied = access?.denied;
      if (outcome.kind === 'refused' && denied !== undefined) {
        // As a policy answer: its x-weft-error carries the rule (`forbidden; policy=...`), which a mesh failure's rescue drops here.
        const value = denied.detail === undefined ? denied.code : `${denied.code}; ${denied.detail}`;
        return { kind: 'policy', answer: meshAnswer(denied.code, meshHttpStatus(denied.code), denied.message, {}, value) };
      }
      return failedTry(outcome, what, attempt);
    }
    const response = outcome.response;
    if (plan?.rule.source.responseHeaders !== undefined) d.policy?.editResponseHeaders(plan, response.headers);
    if (!(response instanceof H2Response)) return { kind: 'translated', response, target: what, meshCode: '' };
    return { kind: 'forwarded', response, target: what, meshCode: believedMeshCode(response) };
  };
  return { forward };
}
