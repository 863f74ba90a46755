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
 * Instances must speak HTTP/2 (registered `protocol: http2` or `grpc`);
 * an HTTP/2 call to an HTTP/1.1 instance is refused with
 * upstream_protocol_error (no translation between the two yet).
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { type Endpoint, INSTANCE_HEADER, type Logger, MeshError, MeshErrorCode, messageOf } from '@weft/shared';
import type { ClientTls } from '../http1/client-connection.js';
import type { H2SessionPool } from '../http2/session-pool.js';
import { Deadline } from './deadline.js';
import { type Attempt, settledFailure, type TrySend } from './forward.js';
import { meshFailure } from './forward-strategy.js';
import { formatGrpcTimeout, GRPC_TIMEOUT_HEADER } from './grpc-status.js';
import { H2ReplayBody } from './h2-body.js';
import { type H2Response, sendH2Once } from './h2-forward.js';
import { h2UpstreamRequestHeaders } from './h2-headers.js';
import type { H2Exchange, H2Strategy, H2Verdict } from './h2-pipeline.js';
import { TIMEOUT_HEADER } from './headers.js';
import { hashKeyOf } from './lb-policies.js';
import type { LoadTracker } from './load-tracker.js';
import { failureCode, failureMessage } from './mesh-response.js';
import type { MeshTls } from './mesh-tls.js';
import { admit, noHealthyEndpoint, trackTry, waitedMs } from './outbound-steps.js';
import { describeEndpoint } from './outbound-strategy.js';
import type { OutlierDetector } from './outlier-detector.js';
import { believedMeshCode } from './peer-answer.js';
import { hostFromAuthority } from './request-target.js';
import { IDEMPOTENCY_KEY_HEADER, isIdempotentRequest, runWithRetries } from './retry-policy.js';
import { type RoutePolicy, RULE_HEADER } from './route-policy.js';
import type { Route, Router } from './router.js';
import type { ServiceResilienceMap } from './service-resilience.js';
import { sleep } from './sleep.js';
import { originOf, peerKeyOf } from './upstream-pools.js';

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
  /** mTLS to peer agents, as the HTTP/1.1 pools (mesh-tls.ts); absent: h2c (--insecure). */
  meshTls?: MeshTls;
}

/** The endpoint speaks HTTP/1.1 (or raw TCP): an HTTP/2 call cannot be handed to it. */
class ProtocolMismatch extends Error {
  override name = 'ProtocolMismatch';
}

export function speaksH2(protocol: string | undefined): boolean {
  return protocol === 'http2' || protocol === 'grpc';
}

const NO_HEAD = { lines: '', hasLength: false };

export function h2OutboundStrategy(d: H2OutboundDeps): H2Strategy {
  type Origin = { key: string; host: string; port: number; tls?: ClientTls };
  const origins = new WeakMap<Endpoint, Origin>();
  const originFor = (endpoint: Endpoint, local: boolean): Origin => {
    let o = origins.get(endpoint);
    if (o === undefined) {
      const host = local ? endpoint.address : endpoint.agentAddress;
      const port = local ? endpoint.port : endpoint.agentPort;
      if (local || d.meshTls === undefined) o = { key: originOf(host, port), host, port };
      else {
        // A peer agent over mTLS: its own session per agent id (as the HTTP/1.1 pools), the agent checked at the handshake.
        const key = peerKeyOf(originOf(host, port), endpoint.agentId);
        o = { key, host, port, tls: d.meshTls.clientFor(key, endpoint.agentId) };
      }
      origins.set(endpoint, o);
    }
    return o;
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
    const plan = d.policy?.decide(service, method, path, { headers: h }, authority) ?? null;
    if (plan?.respond) return { kind: 'policy', answer: plan };
    if (plan) ex.answerFields = { [RULE_HEADER]: plan.rule.label };
    const deadline = new Deadline(plan?.rule.timeoutMs ? Math.min(ex.budgetMs, plan.rule.timeoutMs) : ex.budgetMs);
    // A gRPC call: a deadline the app (x-weft-timeout-ms) or the operator (the rule's timeout) set holds for the whole call (h2-pipeline.ts).
    if (ex.grpc && (h[TIMEOUT_HEADER] !== undefined || plan?.rule.timeoutMs)) ex.meshCallDeadline = deadline;
    if (plan?.delayMs) await sleep(plan.delayMs, ex.clientGone);

    let route: Route;
    try {
      const r = d.router.route(plan ? plan.destination.service : service);
      route = r instanceof Promise ? await r : r;
    } catch (err) {
      if (err instanceof MeshError) return meshFailure(err.code, `service ${service}: ${err.message}`);
      return meshFailure(MeshErrorCode.controlPlaneUnavailable, `service ${service}: cannot resolve endpoints (${messageOf(err)})`);
    }
    if (ex.clientGone.aborted) return { kind: 'gone' };

    const settings = d.policy?.settings(route.service);
    const svc = d.services.get(route.service, settings?.overrides);
    const refused = admit(ex, svc, service);
    if (refused !== undefined) return refused;
    const candidates = plan && d.policy ? d.policy.subset(route.endpoints, plan.destination, route.picker, route.lb) : route;
    const hashOn = settings?.lb?.hashOn;
    const hashKey = hashOn === undefined ? undefined : hashKeyOf(h, hashOn);

    const base = h2UpstreamRequestHeaders(h, {
      method,
      path: plan ? plan.path : path,
      authority,
      requestId: ex.requestId,
      clientAddress: ex.clientAddress,
      edits: plan?.rule.source.requestHeaders,
    });
    const body = ex.stream.endAfterHeaders ? null : new H2ReplayBody(ex.stream, d.maxReplayBodyBytes, ex.grpc);
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
    const send: TrySend = (endpoint, a) => {
      const onOutcome = trackTry(d, endpoint, a.serviceSize);
      if (!speaksH2(endpoint.protocol)) {
        return settledFailure('invalid', new ProtocolMismatch(`it speaks ${endpoint.protocol ?? 'http'}, not HTTP/2`), onOutcome);
      }
      const local = endpoint.agentId === d.agentId;
      const o = originFor(endpoint, local);
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
      if (outcome.kind === 'aborted') return { kind: 'gone' };
      if (outcome.error instanceof ProtocolMismatch) {
        return meshFailure(MeshErrorCode.upstreamProtocolError, `${what}: HTTP/2 call not forwarded (${outcome.error.message})`);
      }
      return meshFailure(failureCode(outcome.kind), failureMessage(outcome.kind, what, waitedMs(outcome, attempt), outcome.error));
    }
    const response = outcome.response as H2Response;
    if (plan?.rule.source.responseHeaders !== undefined) d.policy?.editResponseHeaders(plan, response.headers);
    return { kind: 'forwarded', response, target: what, meshCode: believedMeshCode(response) };
  };
  return { forward };
}
