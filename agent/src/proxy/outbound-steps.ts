/**
 * Steps every outbound call takes whatever its protocol (HTTP/1.1,
 * outbound-strategy.ts; HTTP/2 and gRPC, h2-outbound-strategy.ts) and its
 * destination (a mesh service; a host outside the mesh,
 * outbound-external.ts): the deadline a matched rule sets, the verdict for
 * a service the router cannot resolve, the destination's policy (admission
 * through its circuit breaker, the rule's tag subset, the LB hash key), the
 * access check of tries to instances on this host, the attempt the retry
 * loop sends, load tracking and outlier detection around each try, and the
 * verdict for a last try that produced no response. Written once, so the
 * two protocols cannot drift apart.
 */
import type { IncomingHttpHeaders } from 'node:http2';
import { type Endpoint, type Logger, MeshError, MeshErrorCode, messageOf, type SourceIdentity } from '@weft/shared';
import type { AccessGate } from './access-gate.js';
import { Deadline } from './deadline.js';
import type { Attempt, TryOutcome } from './forward.js';
import { type Exchange, GONE, type MeshFailure, meshFailure } from './forward-strategy.js';
import { upstreamRequestLines } from './headers.js';
import { hashKeyOf } from './lb-policies.js';
import type { Picker } from './lb-policy.js';
import { describeHealth } from './lb-policy.js';
import type { LoadTracker } from './load-tracker.js';
import { failureCode, failureMessage } from './mesh-response.js';
import { NotTranslatable } from './not-translatable.js';
import { type OutlierDetector, verdictOf } from './outlier-detector.js';
import type { PipelineExchange } from './pipeline.js';
import { hasBody, ReplayableBody } from './replay-body.js';
import type { RequestTarget } from './request-target.js';
import { IDEMPOTENCY_KEY_HEADER, isIdempotentRequest } from './retry-policy.js';
import type { RoutePlan, RoutePolicy } from './route-policy.js';
import type { Route } from './router.js';
import type { ServiceResilience, ServiceResilienceMap } from './service-resilience.js';
import { upgradeOf, withUpgrade } from './tunnel-upgrade.js';

export interface AttemptOptions {
  /** Sent as x-forwarded-for; undefined sends none. */
  clientAddress: string | undefined;
  /** Endpoints the try may go to (outlier detection's share of the service). */
  serviceSize: number;
  deadline: Deadline;
  maxReplayBodyBytes: number;
}

/**
 * The request as the retry loop sends it: the head built once from the
 * client's raw fields with the matched rule's header edits, the rule's path,
 * and a body that can be replayed (bounded) while no byte of an answer came.
 */
export function outboundAttempt(ex: Exchange, target: RequestTarget, plan: RoutePlan | null, o: AttemptOptions): Attempt {
  const { req } = ex;
  const edits = plan?.rule.source.requestHeaders;
  // An upgrade (WebSocket) is asked for again on the next hop; a 101 comes back as an `upgraded` verdict.
  const head = withUpgrade(
    upstreamRequestLines(req.rawHeaders, {
      clientAddress: o.clientAddress,
      authority: target.authority,
      requestId: ex.requestId,
      firstHop: true,
      traceparent: ex.traceparent,
      set: edits?.set,
      remove: edits?.remove,
    }),
    upgradeOf(req),
  );
  return {
    method: req.method,
    path: plan ? plan.path : target.path,
    head,
    body: hasBody(req) ? new ReplayableBody(req, o.maxReplayBodyBytes) : null,
    idempotent: isIdempotentRequest(req.method, req.header(IDEMPOTENCY_KEY_HEADER)),
    serviceSize: o.serviceSize,
    deadline: o.deadline,
    tryTimeoutMs: 0,
    perTryCapped: false,
    clientGone: ex.clientGone,
    sourceService: ex.source?.service,
  };
}

/**
 * Counts `ex` in `svc`'s metrics and admits it through its circuit breaker;
 * a refusal is the verdict. Once admitted, the request leaves the breaker
 * when it is finished, whatever happens.
 */
export function admit(
  ex: Pick<PipelineExchange, 'metrics' | 'fields' | 'onFinished'>,
  svc: ServiceResilience,
  service: string,
): MeshFailure | undefined {
  ex.metrics = svc.metrics;
  const limit = svc.breaker.enter();
  if (limit !== undefined) {
    svc.metrics.circuitOpen(limit);
    ex.fields.limit = limit;
    return meshFailure(MeshErrorCode.circuitOpen, svc.breaker.describe(service, limit));
  }
  ex.onFinished = () => svc.breaker.leave();
  return undefined;
}

/** The answer for a last try without a response: nobody (client gone), or the mesh's, naming `what` and how long it waited. */
export function failedTry(outcome: Extract<TryOutcome, { ok: false }>, what: string, attempt: Attempt): MeshFailure | { kind: 'gone' } {
  if (outcome.kind === 'aborted') return GONE;
  if (outcome.error instanceof NotTranslatable) return meshFailure(outcome.error.code, `${what}: ${outcome.error.message}`);
  return meshFailure(failureCode(outcome.kind), failureMessage(outcome.kind, what, waitedMs(outcome, attempt), outcome.error));
}

/** How long a last try without a response waited: the per-try timeout when it cut the try, else the whole deadline. */
export function waitedMs(outcome: Extract<TryOutcome, { ok: false }>, attempt: Attempt): number {
  return outcome.kind === 'timeout' && attempt.perTryCapped ? attempt.tryTimeoutMs : attempt.deadline.budgetMs;
}

export interface TryBookkeeping {
  tracker: LoadTracker;
  detector: OutlierDetector;
  services: ServiceResilienceMap;
  logger: Logger;
}

/**
 * Load tracking and outlier detection around one try, folded into the
 * outcome hook the try calls (a wrapper layer would cost a promise per try):
 * the endpoint counts as active from now until the answer's body closes,
 * and its outcome feeds the detector as soon as it is known, before the
 * retry loop sees it. The hook never throws.
 */
export function trackTry(d: TryBookkeeping, endpoint: Endpoint, serviceSize: number): (outcome: TryOutcome) => void {
  const done = d.tracker.start(endpoint.instanceId);
  return (outcome) => {
    try {
      const ms = d.detector.record(verdictOf(outcome), endpoint.instanceId, endpoint.service, serviceSize);
      if (ms > 0) {
        d.services.get(endpoint.service).metrics.ejected();
        d.logger.warn('endpoint ejected', { service: endpoint.service, instance: endpoint.instanceId, ejectMs: ms });
      }
    } catch (err) {
      // Bookkeeping must never break the try itself (this runs inside the upstream client's callbacks).
      d.logger.error('outlier bookkeeping failed', { service: endpoint.service, instance: endpoint.instanceId, err: messageOf(err) });
    }
    if (outcome.ok) outcome.response.body.whenClosed(done);
    else done();
  };
}

/** The answer when no endpoint of the service (or of the rule's tag subset) could be picked at all. */
export function noHealthyEndpoint(service: string, tags: readonly string[] | undefined, endpoints: readonly Endpoint[]): MeshFailure {
  const subset = tags?.length ? ` with tags ${tags.join(', ')}` : '';
  return meshFailure(MeshErrorCode.noHealthyEndpoint, `service ${service}${subset}: no healthy endpoint (${describeHealth(endpoints)})`);
}

/** The deadline of a call: the caller's budget, capped by the matched rule's timeout. */
export function callDeadline(budgetMs: number, plan: RoutePlan | null): Deadline {
  return new Deadline(plan?.rule.timeoutMs ? Math.min(budgetMs, plan.rule.timeoutMs) : budgetMs);
}

/** The answer when the router cannot resolve `service`: its own error (unknown service, ...), else the control plane's absence. */
export function unresolved(service: string, err: unknown): MeshFailure {
  if (err instanceof MeshError) return meshFailure(err.code, `service ${service}: ${err.message}`);
  return meshFailure(MeshErrorCode.controlPlaneUnavailable, `service ${service}: cannot resolve endpoints (${messageOf(err)})`);
}

/** Where the tries of an admitted call may go. */
export interface Destination {
  /** The destination service's resilience (breaker, metrics, retry budget), with its ServicePolicy's overrides. */
  svc: ServiceResilience;
  /** The endpoints and picker of the rule's tag subset (all endpoints without one). */
  candidates: { readonly endpoints: readonly Endpoint[]; readonly picker: Picker };
  /** The request's consistent-hash key when the service's LB hashes on something. */
  hashKey: string | undefined;
}

/**
 * The destination service's policy applied to a call: its resilience and
 * overrides, admission through its circuit breaker (a refusal is the
 * verdict; `ex` counts in its metrics from here), the matched rule's tag
 * subset, and the LB hash key from the request's fields (read only when
 * the LB hashes: an HTTP/1.1 request builds its field map on first use).
 */
export function destinationOf(
  d: { policy: RoutePolicy | undefined; services: ServiceResilienceMap },
  ex: Pick<PipelineExchange, 'metrics' | 'fields' | 'onFinished'>,
  route: Route,
  plan: RoutePlan | null,
  request: { readonly headers: IncomingHttpHeaders },
  service: string,
): Destination | MeshFailure {
  const settings = d.policy?.settings(route.service);
  const svc = d.services.get(route.service, settings?.overrides);
  const refused = admit(ex, svc, service);
  if (refused !== undefined) return refused;
  // A weighted destination may name instance tags: pick within that subset only.
  const candidates = plan && d.policy ? d.policy.subset(route.endpoints, plan.destination, route.picker, route.lb) : route;
  const hashOn = settings?.lb?.hashOn;
  return { svc, candidates, hashKey: hashOn === undefined ? undefined : hashKeyOf(request.headers, hashOn) };
}

/**
 * The access check of a call's tries to instances on this host: they skip
 * the inbound listener, which checks mesh traffic, so the destination's
 * AccessPolicy is decided here, once per call, at the first such try. A
 * refusal ends the call (`denied`), never a retry elsewhere.
 */
export class LocalAccessCheck {
  /** The refusal, once a try to a local instance was refused. */
  denied: MeshFailure | undefined;
  private checked = false;

  constructor(
    private readonly gate: AccessGate,
    private readonly agentId: string,
    private readonly service: string,
    private readonly source: SourceIdentity | undefined,
    private readonly method: string,
    private readonly requestId: string,
  ) {}

  /** True when a try to `endpoint` must not be sent (it is on this host and the caller is not allowed). */
  refuses(endpoint: Endpoint, path: string): boolean {
    if (endpoint.agentId !== this.agentId) return false;
    if (!this.checked) {
      this.checked = true;
      this.denied = this.gate.check(this.service, this.source, this.method, path, this.requestId);
    }
    return this.denied !== undefined;
  }
}
