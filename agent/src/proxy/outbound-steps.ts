/**
 * Steps every outbound call takes whatever its destination (a mesh service,
 * outbound-strategy.ts; a host outside the mesh, outbound-external.ts):
 * admission through the destination's circuit breaker, and the verdict for
 * a last try that produced no response.
 */
import { MeshErrorCode } from '@weft/shared';
import type { Attempt, TryOutcome } from './forward.js';
import { type Exchange, GONE, type MeshFailure, meshFailure, type Verdict } from './forward-strategy.js';
import { failureCode, failureMessage } from './mesh-response.js';
import type { ServiceResilience } from './service-resilience.js';

/**
 * Counts `ex` in `svc`'s metrics and admits it through its circuit breaker;
 * a refusal is the verdict. Once admitted, the request leaves the breaker
 * when it is finished, whatever happens.
 */
export function admit(ex: Exchange, svc: ServiceResilience, service: string): MeshFailure | undefined {
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
  const { deadline } = attempt;
  const waitedMs = outcome.kind === 'timeout' && !deadline.expired ? attempt.tryTimeoutMs : deadline.budgetMs;
  return meshFailure(failureCode(outcome.kind), failureMessage(outcome.kind, what, waitedMs, outcome.error));
}
