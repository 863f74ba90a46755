/**
 * Route matching: rules in order, first match wins. Path conditions see the
 * normalised path (matchTarget), never the raw one. The hot path (route())
 * allocates nothing per rule; the query string is parsed at most once per
 * request and only when a rule looks at it. explainMatch() runs the very same
 * checks (one function per condition, shared) and also says why each earlier
 * rule did not match.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { normalizePath } from './path-normalize.js';
import type { CompiledDestination, CompiledPolicy, CompiledRule, CompiledValueMatch, MatchConditions } from './policy-compile.js';

/** What the matcher reads of a request. */
export interface MatchRequest {
  method: string;
  /** Path without the query string, normalised (normalizePath): what path conditions are matched against. */
  path: string;
  /** The raw query string without "?" ("" when none). */
  query: string;
  headers: IncomingHttpHeaders;
}

/** Splits "/a/b?x=1" into path and query. */
export function splitPath(pathAndQuery: string): { path: string; query: string } {
  const q = pathAndQuery.indexOf('?');
  return q < 0 ? { path: pathAndQuery, query: '' } : { path: pathAndQuery.slice(0, q), query: pathAndQuery.slice(q + 1) };
}

/** The path (normalised, see path-normalize.ts) and raw query string rules are matched against. */
export function matchTarget(pathAndQuery: string): { path: string; query: string } {
  const { path, query } = splitPath(pathAndQuery);
  return { path: normalizePath(path), query };
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Why `m` fails against `value`, or null when it matches. */
function valueMismatch(m: CompiledValueMatch, value: string | undefined, what: string): string | null {
  if (m.present !== undefined) {
    if (m.present && value === undefined) return `${what} ${m.name} is absent`;
    if (!m.present && value !== undefined) return `${what} ${m.name} is present`;
    return null;
  }
  if (value === undefined) return `${what} ${m.name} is absent`;
  if (m.exact !== undefined && value !== m.exact) return `${what} ${m.name} is ${JSON.stringify(value)}, not ${JSON.stringify(m.exact)}`;
  if (m.regex !== undefined && !m.regex.test(value)) return `${what} ${m.name} ${JSON.stringify(value)} does not match /${m.regex.source}/`;
  return null;
}

/** Per-request lazily parsed query parameters. */
export class QueryCache {
  private params: URLSearchParams | undefined;
  constructor(private readonly raw: string) {}
  get(name: string): string | undefined {
    if (this.raw === '') return undefined;
    this.params ??= new URLSearchParams(this.raw);
    return this.params.get(name) ?? undefined;
  }
}

/** Why `rule` does not match, or null when it does. Cheap checks first. */
export function ruleMismatch(rule: MatchConditions, req: MatchRequest, query: QueryCache | undefined): string | null {
  if (rule.pathExact !== undefined && req.path !== rule.pathExact) return `path ${req.path} is not ${rule.pathExact}`;
  if (rule.pathPrefix !== undefined && !req.path.startsWith(rule.pathPrefix))
    return `path ${req.path} does not start with ${rule.pathPrefix}`;
  if (rule.methods !== undefined && !rule.methods.has(req.method))
    return `method ${req.method} is not one of ${[...rule.methods].join(', ')}`;
  if (rule.pathRegex !== undefined && !rule.pathRegex.test(req.path)) return `path ${req.path} does not match /${rule.pathRegex.source}/`;
  for (const h of rule.headers) {
    const why = valueMismatch(h, headerValue(req.headers, h.name), 'header');
    if (why) return why;
  }
  if (rule.query.length > 0) {
    const q = query ?? new QueryCache(req.query);
    for (const m of rule.query) {
      const why = valueMismatch(m, q.get(m.name), 'query parameter');
      if (why) return why;
    }
  }
  return null;
}

/** Fast boolean form of ruleMismatch for the hot path (no strings built). */
export function ruleMatches(rule: MatchConditions, req: MatchRequest, qc: { q?: QueryCache }): boolean {
  if (rule.pathExact !== undefined && req.path !== rule.pathExact) return false;
  if (rule.pathPrefix !== undefined && !req.path.startsWith(rule.pathPrefix)) return false;
  if (rule.methods !== undefined && !rule.methods.has(req.method)) return false;
  if (rule.pathRegex !== undefined && !rule.pathRegex.test(req.path)) return false;
  for (const h of rule.headers) {
    const v = headerValue(req.headers, h.name);
    if (h.present !== undefined) {
      if (h.present !== (v !== undefined)) return false;
    } else if (v === undefined || (h.exact !== undefined && v !== h.exact) || (h.regex !== undefined && !h.regex.test(v))) return false;
  }
  if (rule.query.length > 0) {
    qc.q ??= new QueryCache(req.query);
    for (const m of rule.query) if (valueMismatch(m, qc.q.get(m.name), '') !== null) return false;
  }
  return true;
}

/** The first rule that matches, or undefined (then the service's default route applies). */
export function route(policy: CompiledPolicy, req: MatchRequest): CompiledRule | undefined {
  const rules = policy.rules;
  const qc: { q?: QueryCache } = {};
  for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i], req, qc)) return rules[i];
  return undefined;
}

/** The destination for one request, by weight; `random` in [0, 1). */
export function pickDestination(rule: CompiledRule, random: number = Math.random()): CompiledDestination | undefined {
  if (rule.destinations.length === 0) return undefined;
  if (rule.destinations.length === 1) return rule.destinations[0];
  const x = random * rule.totalWeight;
  for (let i = 0; i < rule.cumulative.length; i++) if (x < rule.cumulative[i]) return rule.destinations[i];
  return rule.destinations[rule.destinations.length - 1];
}

export interface MatchExplanation {
  matched: CompiledRule | undefined;
  /** Every rule before the match (or every rule when none matched), with the reason it did not match. */
  skipped: { id: string; name?: string; reason: string }[];
}

export function explainMatch(policy: CompiledPolicy, req: MatchRequest): MatchExplanation {
  const skipped: MatchExplanation['skipped'] = [];
  const q = new QueryCache(req.query);
  for (const rule of policy.rules) {
    const why = ruleMismatch(rule, req, q);
    if (why === null) return { matched: rule, skipped };
    skipped.push({ id: rule.id, name: rule.source.name, reason: why });
  }
  return { matched: undefined, skipped };
}
