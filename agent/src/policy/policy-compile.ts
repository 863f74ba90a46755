/**
 * Compiles a received PolicyBundle into what the hot path reads: rules in
 * order with precompiled RE2 regexes (linear-time; see shared policy-regex.ts), method sets, cumulative destination
 * weights, durations in ms, a token bucket, the route's retry settings, the
 * service's load-balancing policy and resilience overrides for the proxy.
 * Compilation happens once per
 * received version; a bundle that fails here is NACKed (the previous version
 * stays in force).
 */
import { compilePolicyRegex, type PolicyBundle, parseDuration, type Rule, type ServicePolicyDocument, type ValueMatch } from '@weft/shared';
import { type HashOn, lbPolicyName } from '../proxy/lb-policies.js';
import { findLbPolicy, type LbPolicy } from '../proxy/lb-policy.js';
import type { RetryCondition, RouteRetry } from '../proxy/retry-policy.js';
import type { ServiceOverrides } from '../proxy/service-resilience.js';
import { type CompiledAccess, compileAccess } from './policy-access.js';
import { type CompiledValueMatch, compileConditions, type MatchConditions } from './policy-conditions.js';

export type { CompiledValueMatch, MatchConditions };

import { TokenBucket } from './token-bucket.js';

/** Backoff of a rule that sets `retry` without `backoff` (Envoy's defaults). */
export const DEFAULT_RETRY_BACKOFF = Object.freeze({ baseMs: 25, maxMs: 250 });

export interface CompiledDestination {
  service: string;
  /** Sorted, deduplicated; empty = every endpoint. */
  tags: readonly string[];
  /** Cache key of the endpoint subset ("" = whole service). */
  subsetKey: string;
  weight: number;
}

export interface CompiledRule extends MatchConditions {
  /** "<service>/<index>" — names the rule in x-weft-error and explain. */
  readonly id: string;
  /**
   * What `x-weft-rule` says: "<service>/<name>" for a named rule, else the id
   * ("<service>/<index>"), so an operator reads the name they wrote.
   */
  readonly label: string;
  readonly index: number;
  readonly source: Rule;
  readonly destinations: readonly CompiledDestination[];
  /** Running sums of weights, same order as destinations. */
  readonly cumulative: readonly number[];
  readonly totalWeight: number;
  readonly timeoutMs?: number;
  readonly perTryTimeoutMs?: number;
  /** retry and perTryTimeout for the proxy's retry loop; undefined = the service's defaults. */
  readonly retry?: RouteRetry;
  readonly delay?: { fraction: number; ms: number };
  readonly abort?: { fraction: number; status: number };
}

export interface CompiledPolicy {
  readonly service: string;
  readonly version: string;
  readonly bundle: PolicyBundle;
  readonly rules: readonly CompiledRule[];
  readonly rateLimit?: TokenBucket;
  readonly servicePolicy?: ServicePolicyDocument;
  /** ServicePolicy.loadBalancer resolved in the registry; undefined = the proxy's default. */
  readonly lb?: { policy: LbPolicy; hashOn?: HashOn };
  /** ServicePolicy.circuitBreaker / outlierDetection; undefined = the agent's defaults. */
  readonly overrides?: ServiceOverrides;
  /** The service's AccessPolicy; undefined = the mesh default decides every request. */
  readonly access?: CompiledAccess;
}

function valueMatches(list: readonly ValueMatch[] | undefined): CompiledValueMatch[] {
  return (list ?? []).map((m) => ({
    name: m.name,
    exact: m.exact,
    regex: m.regex === undefined ? undefined : compilePolicyRegex(m.regex),
    present: m.present,
  }));
}

function compileRule(service: string, rule: Rule, index: number): CompiledRule {
  const at = `rules[${index}]`;
  const destinations: CompiledDestination[] = (rule.route ?? []).map((d) => {
    const tags = [...new Set(d.tags ?? [])].sort();
    const target = d.service ?? service;
    return { service: target, tags, subsetKey: tags.join('\u0000'), weight: d.weight ?? 1 };
  });
  const cumulative: number[] = [];
  let total = 0;
  for (const d of destinations) {
    total += d.weight;
    cumulative.push(total);
  }
  const path = rule.match?.path;
  const perTryTimeoutMs = rule.perTryTimeout === undefined ? undefined : parseDuration(rule.perTryTimeout, `${at}.perTryTimeout`);
  return {
    id: `${service}/${index}`,
    label: `${service}/${rule.name ?? index}`,
    index,
    source: rule,
    ...compileConditions(path, rule.match?.methods),
    headers: valueMatches(rule.match?.headers),
    query: valueMatches(rule.match?.query),
    destinations,
    cumulative,
    totalWeight: total,
    timeoutMs: rule.timeout === undefined ? undefined : parseDuration(rule.timeout, `${at}.timeout`),
    perTryTimeoutMs,
    retry: compileRetry(rule, perTryTimeoutMs, at),
    delay: rule.fault?.delay
      ? { fraction: rule.fault.delay.percent / 100, ms: parseDuration(rule.fault.delay.duration, `${at}.fault.delay.duration`) }
      : undefined,
    abort: rule.fault?.abort ? { fraction: rule.fault.abort.percent / 100, status: rule.fault.abort.status } : undefined,
  };
}

function compileRetry(rule: Rule, perTryTimeoutMs: number | undefined, at: string): RouteRetry | undefined {
  const r = rule.retry;
  if (r === undefined) return perTryTimeoutMs === undefined ? undefined : { perTryTimeoutMs };
  const base = r.backoff?.base === undefined ? DEFAULT_RETRY_BACKOFF.baseMs : parseDuration(r.backoff.base, `${at}.retry.backoff.base`);
  const max =
    r.backoff?.max === undefined ? Math.max(base, DEFAULT_RETRY_BACKOFF.maxMs) : parseDuration(r.backoff.max, `${at}.retry.backoff.max`);
  if (max < base) throw new Error(`${at}.retry.backoff.max: must be >= backoff.base`);
  return {
    maxRetries: r.attempts,
    perTryTimeoutMs,
    on: r.on === undefined ? undefined : new Set(r.on as RetryCondition[]),
    backoff: { baseMs: base, maxMs: max },
  };
}

function compileLb(doc: ServicePolicyDocument | undefined): CompiledPolicy['lb'] {
  const lb = doc?.loadBalancer;
  if (lb === undefined) return undefined;
  const policy = findLbPolicy(lbPolicyName(lb.policy));
  if (policy === undefined) throw new Error(`loadBalancer.policy: ${JSON.stringify(lb.policy)} is not supported by this agent`);
  return { policy, hashOn: lb.hashOn };
}

function compileOverrides(doc: ServicePolicyDocument | undefined, version: string): ServiceOverrides | undefined {
  const cb = doc?.circuitBreaker;
  const od = doc?.outlierDetection;
  if (cb === undefined && od === undefined) return undefined;
  return {
    key: version,
    maxRequests: cb?.maxRequests,
    maxPendingRequests: cb?.maxPendingRequests,
    maxRetries: cb?.maxRetries,
    outlier: od && {
      consecutiveFailures: od.consecutiveErrors,
      baseEjectionMs:
        od.baseEjectionTime === undefined ? undefined : parseDuration(od.baseEjectionTime, 'outlierDetection.baseEjectionTime'),
      maxEjectionPercent: od.maxEjectionPercent,
    },
  };
}

export function compilePolicy(bundle: PolicyBundle, version: string): CompiledPolicy {
  const rules = (bundle.routes?.rules ?? []).map((r, i) => compileRule(bundle.service, r, i));
  const rl = bundle.policy?.rateLimit;
  return Object.freeze({
    service: bundle.service,
    version,
    bundle,
    rules: Object.freeze(rules),
    rateLimit: rl ? new TokenBucket(rl.requestsPerSecond, rl.burst ?? Math.max(1, Math.ceil(rl.requestsPerSecond))) : undefined,
    servicePolicy: bundle.policy,
    lb: compileLb(bundle.policy),
    overrides: compileOverrides(bundle.policy, version),
    access: bundle.access === undefined ? undefined : compileAccess(bundle.access),
  });
}
