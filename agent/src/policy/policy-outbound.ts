/**
 * The traffic policy on the outbound path. The proxy calls decide() once per
 * request before it picks an endpoint; a service without a policy costs one
 * Map lookup and decide() returns null (the proxy behaves as without policy).
 *
 * Order per request: match a rule (first match wins) -> the service's local
 * rate limit -> fault abort -> redirect / direct response -> forward (pick a
 * destination by weight, rewrite, fault delay). Responses the mesh makes here
 * name the rule or limit: `x-weft-error: rate_limited; limit=orders; rule=orders/2`,
 * `x-weft-error: fault_injected; rule=orders/1`; redirects and direct
 * responses carry `x-weft-rule: orders/3`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { type Endpoint, ERROR_HEADER, MeshErrorCode, meshHttpStatus } from '@weft/shared';
import type { LbPolicy, LoadView, Picker } from '../proxy/lb-policy.js';
import { type PolicyAnswer, type RoutePolicy, RULE_HEADER, type ServiceSettings } from '../proxy/route-policy.js';
import type { CompiledDestination, CompiledRule } from './policy-compile.js';
import { matchTarget, pickDestination, route } from './policy-match.js';
import type { PolicyView } from './policy-view.js';

export { RULE_HEADER };

/** The policy's own answer (the proxy's contract, route-policy.ts). */
export type PolicyResponse = PolicyAnswer;

export interface ForwardPlan {
  respond: false;
  rule: CompiledRule;
  destination: CompiledDestination;
  /** Path and query to send (rewritten when the rule says so). */
  path: string;
  /** Injected delay before forwarding; 0 = none. */
  delayMs: number;
}

export type PolicyDecision = PolicyResponse | ForwardPlan;

export interface Subset {
  endpoints: readonly Endpoint[];
  picker: Picker;
}

const NO_LOAD: LoadView = { active: () => 0, isEjected: () => false };

export class OutboundPolicy implements RoutePolicy {
  private load: LoadView = NO_LOAD;
  /** Per endpoint list (one per snapshot version) and tag set: the subset and its picker. */
  private readonly subsets = new WeakMap<readonly Endpoint[], Map<string, Subset>>();

  constructor(
    readonly view: PolicyView,
    private readonly random: () => number = Math.random,
  ) {}

  /** The proxy's live load and ejection state, for subset pickers and explain. */
  setLoad(load: LoadView): void {
    this.load = load;
  }

  settings(service: string): ServiceSettings | undefined {
    return this.view.get(service);
  }

  loadView(): LoadView {
    return this.load;
  }

  /** Null = no policy for this service, or nothing applies: forward as usual. */
  decide(
    service: string,
    method: string,
    pathAndQuery: string,
    request: { readonly headers: IncomingHttpHeaders },
    authority: string,
  ): PolicyDecision | null {
    const policy = this.view.get(service);
    if (policy === undefined) return null;
    const { path, query } = matchTarget(pathAndQuery);
    // The request's header map is read (and, on the proxy, built) only when there are rules to match.
    const rule = policy.rules.length > 0 ? route(policy, { method, path, query, headers: request.headers }) : undefined;
    if (policy.rateLimit && !policy.rateLimit.take()) {
      const tag = rule ? `; rule=${rule.id}` : '';
      return meshAnswer(
        meshHttpStatus(MeshErrorCode.rateLimited),
        `${MeshErrorCode.rateLimited}; limit=${service}${tag}`,
        `service ${service}: local rate limit of ${policy.rateLimit.ratePerSec}/s (burst ${policy.rateLimit.burst}) exceeded${rule ? ` (rule ${rule.id})` : ''}`,
        rule?.id,
      );
    }
    if (rule === undefined) return null;
    if (rule.abort && this.random() < rule.abort.fraction) {
      return meshAnswer(
        rule.abort.status,
        `${MeshErrorCode.faultInjected}; rule=${rule.id}`,
        `service ${service}: fault injected by rule ${rule.id} (abort ${rule.abort.fraction * 100}% with ${rule.abort.status})`,
        rule.id,
      );
    }
    const src = rule.source;
    if (src.directResponse) {
      const d = src.directResponse;
      const body = d.body ?? '';
      return {
        respond: true,
        status: d.status,
        headers: { 'content-type': 'text/plain; charset=utf-8', ...d.headers, [RULE_HEADER]: rule.label },
        body,
        code: 'direct_response',
        ruleId: rule.id,
      };
    }
    if (src.redirect) {
      const r = src.redirect;
      const location = `http://${r.host ?? authority}${r.path ?? pathAndQuery}`;
      return {
        respond: true,
        status: r.status ?? 302,
        headers: { location, [RULE_HEADER]: rule.label },
        body: '',
        code: 'redirect',
        ruleId: rule.id,
      };
    }
    const destination = pickDestination(rule, this.random());
    if (!destination) return null;
    // The client's path is forwarded byte for byte unless a rewrite applies; a
    // rewrite replaces the matched prefix of the normalised path (the one the
    // rule matched), so `/api/../admin` can never be rewritten past the prefix.
    let target = pathAndQuery;
    if (src.rewritePrefix !== undefined && rule.pathPrefix !== undefined)
      target = src.rewritePrefix + path.slice(rule.pathPrefix.length) + (query === '' && !pathAndQuery.includes('?') ? '' : `?${query}`);
    const delayMs = rule.delay && this.random() < rule.delay.fraction ? rule.delay.ms : 0;
    return { respond: false, rule, destination, path: target, delayMs };
  }

  /**
   * The endpoints of `destination` within `endpoints` (all of them when it
   * names no tags), with a picker of the service's policy `lb` (the one that
   * built `fallback`).
   */
  subset(endpoints: readonly Endpoint[], destination: CompiledDestination, fallback: Picker, lb: LbPolicy): Subset {
    if (destination.tags.length === 0) return { endpoints, picker: fallback };
    let byKey = this.subsets.get(endpoints);
    if (!byKey) {
      byKey = new Map();
      this.subsets.set(endpoints, byKey);
    }
    const key = `${lb.name}\u0000${destination.subsetKey}`;
    let s = byKey.get(key);
    if (!s) {
      const chosen = endpoints.filter((e) => destination.tags.every((t) => e.tags.includes(t)));
      s = { endpoints: chosen, picker: lb.createPicker(chosen, this.load) };
      byKey.set(key, s);
    }
    return s;
  }

  /** Response header edits of the rule, in place on the upstream response's headers. */
  editResponseHeaders(plan: ForwardPlan, headers: Record<string, string | string[] | undefined>): void {
    const e = plan.rule.source.responseHeaders;
    if (!e) return;
    for (const name of e.remove ?? []) delete headers[name];
    for (const [name, value] of Object.entries(e.set ?? {})) headers[name] = value;
  }
}

function meshAnswer(status: number, errorHeader: string, message: string, ruleId: string | undefined): PolicyResponse {
  return {
    respond: true,
    status,
    headers: { [ERROR_HEADER]: errorHeader, 'content-type': 'text/plain; charset=utf-8' },
    body: `${message}\n`,
    code: errorHeader.split(';')[0],
    ruleId,
  };
}
