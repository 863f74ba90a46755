/**
 * The proxy's AccessPolicy contract (proxy/access-policy.ts) over the
 * agent's policy view: the service's compiled AccessPolicy (held with the
 * rest of its "policy/<service>" bundle) and the mesh default of
 * "mesh/settings". A service's policy is known once the agent holds the
 * answer for "policy/<service>"; an inbound request for a local service the
 * agent never called subscribes to it (with its endpoints, as outbound
 * requests do) and waits for the answer, so the first request is decided by
 * the policy in force, not by a guess.
 */
import { MeshError, MeshErrorCode, messageOf, type SourceIdentity } from '@weft/shared';
import type { EndpointSource, ServiceSnapshot } from '../contracts.js';
import type { AccessDecision, AccessPolicy } from '../proxy/access-policy.js';
import { type AccessExplanation, decideAccess, explainAccess } from './policy-access.js';
import { matchTarget } from './policy-match.js';
import type { PolicyView } from './policy-view.js';

/** The config view as this needs it: a held snapshot, or a subscription that settles. */
export interface HeldEndpoints extends EndpointSource {
  get(service: string): ServiceSnapshot | undefined;
}

export class AccessView implements AccessPolicy {
  constructor(
    readonly policies: PolicyView,
    private readonly endpoints: HeldEndpoints,
  ) {}

  ready(service: string): Promise<string | undefined> | undefined {
    if (this.policies.get(service) !== undefined || this.endpoints.get(service) !== undefined) return undefined;
    let pending: ReturnType<EndpointSource['resolve']>;
    try {
      pending = this.endpoints.resolve(service);
    } catch (err) {
      return Promise.resolve(messageOf(err));
    }
    if (!(pending instanceof Promise)) return undefined;
    return pending.then(
      () => undefined,
      // Unknown to the control plane: its policy is not_found too (they are answered together).
      (err: unknown) => (err instanceof MeshError && err.code === MeshErrorCode.unknownService ? undefined : messageOf(err)),
    );
  }

  decide(service: string, source: SourceIdentity | undefined, method: string, pathAndQuery: string): AccessDecision {
    const access = this.policies.get(service)?.access;
    // Only rules read the path: without a policy (the mesh default decides) it is not normalised.
    const path = access === undefined ? '' : matchTarget(pathAndQuery).path;
    return decideAccess(access, service, this.policies.defaultAccess(), source, { method, path });
  }

  explain(service: string, source: SourceIdentity | undefined, method: string, pathAndQuery: string): AccessExplanation {
    const { path } = matchTarget(pathAndQuery);
    return explainAccess(this.policies.get(service)?.access, service, this.policies.defaultAccess(), source, { method, path });
  }
}
