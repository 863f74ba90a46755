/**
 * Compiles a received PolicyBundle into what the hot path reads: rules in
 * order with precompiled regexes, method sets, cumulative destination
 * weights, durations in ms, a token bucket. Compilation happens once per
 * received version; a bundle that fails here is NACKed (the previous version
 * stays in force).
 */
import { type PolicyBundle, parseDuration, type Rule, type ServicePolicyDocument, type ValueMatch } from '@weft/shared';
import { TokenBucket } from './token-bucket.js';

export interface CompiledValueMatch {
  name: string;
  exact?: string;
  regex?: RegExp;
  /** true: must be present; false: must be absent. */
  present?: boolean;
}

export interface CompiledDestination {
  service: string;
  /** Sorted, deduplicated; empty = every endpoint. */
  tags: readonly string[];
  /** Cache key of the endpoint subset ("" = whole service). */
  subsetKey: string;
  weight: number;
}

export interface CompiledRule {
  /** "<service>/<index>" — names the rule in x-weft-error and explain. */
  readonly id: string;
  readonly index: number;
  readonly source: Rule;
  readonly pathExact?: string;
  readonly pathPrefix?: string;
  readonly pathRegex?: RegExp;
  readonly methods?: ReadonlySet<string>;
  readonly headers: readonly CompiledValueMatch[];
  readonly query: readonly CompiledValueMatch[];
  readonly destinations: readonly CompiledDestination[];
  /** Running sums of weights, same order as destinations. */
  readonly cumulative: readonly number[];
  readonly totalWeight: number;
  readonly timeoutMs?: number;
  readonly perTryTimeoutMs?: number;
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
}

function valueMatches(list: readonly ValueMatch[] | undefined): CompiledValueMatch[] {
  return (list ?? []).map((m) => ({
    name: m.name,
    exact: m.exact,
    regex: m.regex === undefined ? undefined : new RegExp(m.regex),
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
  return {
    id: `${service}/${index}`,
    index,
    source: rule,
    pathExact: path?.exact,
    pathPrefix: path?.prefix,
    pathRegex: path?.regex === undefined ? undefined : new RegExp(path.regex),
    methods: rule.match?.methods ? new Set(rule.match.methods) : undefined,
    headers: valueMatches(rule.match?.headers),
    query: valueMatches(rule.match?.query),
    destinations,
    cumulative,
    totalWeight: total,
    timeoutMs: rule.timeout === undefined ? undefined : parseDuration(rule.timeout, `${at}.timeout`),
    perTryTimeoutMs: rule.perTryTimeout === undefined ? undefined : parseDuration(rule.perTryTimeout, `${at}.perTryTimeout`),
    delay: rule.fault?.delay
      ? { fraction: rule.fault.delay.percent / 100, ms: parseDuration(rule.fault.delay.duration, `${at}.fault.delay.duration`) }
      : undefined,
    abort: rule.fault?.abort ? { fraction: rule.fault.abort.percent / 100, status: rule.fault.abort.status } : undefined,
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
  });
}
