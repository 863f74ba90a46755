/**
 * Steps every outbound call takes whatever its destination (a mesh service,
 * outbound-strategy.ts; a host outside the mesh, outbound-external.ts):
 * admission through the destination's circuit breaker, the attempt the
 * retry loop sends, and the verdict for a last try that produced no response.
 */
import { type Endpoint, type Logger, MeshErrorCode, messageOf } from '@weft/shared';
import type { Deadline } from './deadline.js';
import type { Attempt, TryOutcome } from './forward.js';
import { type Exchange, GONE, type MeshFailure, meshFailure, type Verdict } from './forward-strategy.js';
import { upstreamRequestLines } from './headers.js';
import { describeHealth } from './lb-policy.js';
import type { LoadTracker } from './load-tracker.js';
import { failureCode, failureMessage } from './mesh-response.js';
import { NotTranslatable } from './not-translatable.js';
import { type OutlierDetector, verdictOf } from './outlier-detector.js';
import { hasBody, ReplayableBody } from './replay-body.js';
import type { RequestTarget } from './request-target.js';
import { IDEMPOTENCY_KEY_HEADER, isIdempotentRequest } from './retry-policy.js';
import type { RoutePlan } from './route-policy.js';
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
  ex: Pick<Exchange, 'metrics' | 'fields' | 'onFinished'>,
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
export function failedTry(outcome: Extract<TryOutcome, { ok: false }>, what: string, attempt: Attempt): Verdict {
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
