/**
 * What the outbound strategy asks of the traffic policy, declared here so
 * that proxy/ never imports policy/: agent/src/policy implements this
 * contract (policy-outbound.ts) and may use the proxy's load-balancing and
 * retry types, never the other way round. agent.ts wires the two together.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Endpoint } from '@weft/shared';
import type { HashOn } from './lb-policies.js';
import type { LbPolicy, LoadView, Picker } from './lb-policy.js';
import type { RouteRetry } from './retry-policy.js';
import type { ServiceOverrides } from './service-resilience.js';

/** Names the matched rule on answers the policy shaped (redirects, direct responses, forwarded answers). */
export const RULE_HEADER = 'x-weft-rule';

/** The policy answers by itself (rate limit, fault abort, redirect, direct response). */
export interface PolicyAnswer {
  respond: true;
  status: number;
  headers: Record<string, string>;
  body: string;
  /** x-weft-error code (or `redirect` / `direct_response`) for the log and the metrics. */
  code: string;
  ruleId?: string;
}

export interface HeaderEdits {
  set?: Readonly<Record<string, string>>;
  remove?: readonly string[];
}

/** The matched rule, as far as forwarding needs it. */
export interface RouteRule {
  readonly id: string;
  /** What `x-weft-rule` carries: "<service>/<name>", or the id for an unnamed rule. */
  readonly label: string;
  /** The rule's deadline; 0 or undefined = the request's. */
  readonly timeoutMs?: number;
  readonly retry?: RouteRetry;
  readonly source: { readonly requestHeaders?: HeaderEdits; readonly responseHeaders?: HeaderEdits };
}

export interface RouteDestination {
  readonly service: string;
  /** Instance tags the endpoint must carry; empty = any endpoint of the service. */
  readonly tags: readonly string[];
}

/** The policy lets the request through, shaped by a rule. */
export interface RoutePlan {
  respond: false;
  rule: RouteRule;
  destination: RouteDestination;
  /** Path and query to send (rewritten when the rule says so). */
  path: string;
  /** Injected delay before forwarding; 0 = none. */
  delayMs: number;
}

/** A destination service's own settings (its ServicePolicy). */
export interface ServiceSettings {
  readonly lb?: { policy: LbPolicy; hashOn?: HashOn };
  readonly overrides?: ServiceOverrides;
}

export interface RoutePolicy {
  /** Null = nothing applies: forward as without policy. Called once per request before an endpoint is picked. */
  decide(
    service: string,
    method: string,
    pathAndQuery: string,
    request: { readonly headers: IncomingHttpHeaders },
    authority: string,
  ): PolicyAnswer | RoutePlan | null;
  /** The service's own settings, undefined when it has no ServicePolicy. */
  settings(service: string): ServiceSettings | undefined;
  /** The endpoints of `destination` (all when it names no tags) with their picker; never does I/O. */
  subset(
    endpoints: readonly Endpoint[],
    destination: RouteDestination,
    fallback: Picker,
    lb: LbPolicy,
  ): { endpoints: readonly Endpoint[]; picker: Picker };
  /** The rule's response header edits, in place. */
  editResponseHeaders(plan: RoutePlan, headers: Record<string, string | string[] | undefined>): void;
  /** The proxy's live load and ejection state (subset pickers and explain read it). */
  setLoad(load: LoadView): void;
}
