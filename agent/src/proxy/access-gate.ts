/**
 * The access check as both directions run it (access-policy.ts says where):
 * waits until the destination's policy is known, decides, counts the
 * decision (weft_access_decisions_total), logs a shadow deny (bounded, as
 * every per-request line), and turns a deny into the MeshFailure the
 * pipeline answers: `403 x-weft-error: forbidden; policy=orders/1` with a
 * body naming the source identity and the rule.
 */
import { MeshErrorCode, type SourceIdentity } from '@weft/shared';
import type { AccessDecision, AccessPolicy } from './access-policy.js';
import { type MeshFailure, meshFailure } from './forward-strategy.js';
import type { ProxyMetrics } from './proxy-metrics.js';
import type { RequestLog } from './request-log.js';

/** What a denied request is answered with. */
export function forbidden(d: AccessDecision): MeshFailure {
  return { ...meshFailure(MeshErrorCode.forbidden, d.reason), detail: `policy=${d.ruleId}` };
}

export class AccessGate {
  constructor(
    private readonly policy: AccessPolicy,
    private readonly metrics: ProxyMetrics,
    private readonly log: RequestLog,
  ) {}

  /** Undefined when the policy of `service` is known; else a promise (see AccessPolicy.ready). */
  ready(service: string): Promise<string | undefined> | undefined {
    return this.policy.ready(service);
  }

  /**
   * Decides, counts and logs one request to a local instance of `service`;
   * returns the failure to answer, or undefined to let it through (allow,
   * shadow_deny). The policy must be known (ready()).
   */
  check(
    service: string,
    source: SourceIdentity | undefined,
    method: string,
    pathAndQuery: string,
    requestId: string,
  ): MeshFailure | undefined {
    const d = this.policy.decide(service, source, method, pathAndQuery);
    this.metrics.access(service, d.decision, d.ruleId);
    if (d.decision === 'allow') return undefined;
    if (d.decision === 'shadow_deny') {
      this.log.log('access shadow-denied', 'shadow_deny', { service, rule: d.ruleId, requestId, detail: d.reason });
      return undefined;
    }
    return forbidden(d);
  }

  /** ready() then check(): a policy that cannot be known refuses the request (fail closed). */
  async checkWhenReady(
    service: string,
    source: SourceIdentity | undefined,
    method: string,
    pathAndQuery: string,
    requestId: string,
  ): Promise<MeshFailure | undefined> {
    const pending = this.policy.ready(service);
    const unknown = pending === undefined ? undefined : await pending;
    if (unknown !== undefined) {
      this.metrics.access(service, 'deny', `${service}/unknown`);
      return {
        ...meshFailure(
          MeshErrorCode.controlPlaneUnavailable,
          `service ${service}: access policy not known yet, so no request is let in (${unknown})`,
        ),
        detail: `policy=${service}/unknown`,
      };
    }
    return this.check(service, source, method, pathAndQuery, requestId);
  }
}
