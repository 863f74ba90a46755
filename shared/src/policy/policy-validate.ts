/**
 * The one validator of traffic-policy documents, used by the CLI (dry run),
 * the control plane (authoritative, before anything is stored) and the agent
 * (on receipt; a failure is a NACK). It checks the schema only: shape, unknown
 * fields, ranges, durations, regexes that must compile. Cross-references
 * (does the service exist, does any instance carry a tag) need the registry and
 * live in policy-crossref.ts. Every error names the field path
 * (`rules[1].match.path.regex: invalid regular expression ...`).
 */
import { parseDuration } from '../duration.js';
import { ValidationError } from '../errors.js';
import { isObject, rejectUnknownKeys, validateServiceName, validateTags } from '../validate.js';
import {
  type CircuitBreaker,
  type Destination,
  type DirectResponse,
  type FaultPolicy,
  type HeaderEdits,
  KIND_ROUTES,
  KIND_SERVICE_POLICY,
  type LoadBalancer,
  type OutlierDetection,
  type PathMatch,
  POLICY_API_VERSION,
  POLICY_KINDS,
  type PolicyBundle,
  type PolicyDocument,
  type RateLimit,
  type Redirect,
  type RetryPolicy,
  type RoutesDocument,
  type Rule,
  type RuleMatch,
  type ServicePolicyDocument,
  type ValueMatch,
} from './policy-types.js';

export const PolicyLimits = { rules: 1000, destinations: 64, headerValue: 4096, regex: 1024, body: 65_536 } as const;
export const RETRY_CONDITIONS = ['connect-failure', 'reset', '5xx', 'gateway-error', 'retriable-4xx'] as const;
export const LB_POLICIES = ['least-request', 'round-robin', 'consistent-hash'] as const;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'];
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REDIRECT_STATUS = [301, 302, 303, 307, 308];

const at = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

function obj(v: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isObject(v)) throw new ValidationError(path, 'must be an object');
  rejectUnknownKeys(v, allowed, path);
  return v;
}

function str(v: unknown, path: string, max: number = PolicyLimits.headerValue): string {
  if (typeof v !== 'string') throw new ValidationError(path, 'must be a string');
  if (v.length > max) throw new ValidationError(path, `must be at most ${max} characters`);
  return v;
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ValidationError(path, 'must be an integer');
  if (v < min || v > max) throw new ValidationError(path, `must be ${min}..${max}`);
  return v;
}

function percent(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) throw new ValidationError(path, 'must be a number 0..100');
  return v;
}

function duration(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new ValidationError(path, 'must be a duration such as "2s" or "250ms"');
  const ms = parseDuration(v, path);
  if (ms <= 0) throw new ValidationError(path, 'must be greater than 0');
  return v;
}

function regex(v: unknown, path: string): string {
  const s = str(v, path, PolicyLimits.regex);
  try {
    new RegExp(s);
  } catch (err) {
    throw new ValidationError(path, `invalid regular expression: ${(err as Error).message}`);
  }
  return s;
}

function headerName(v: unknown, path: string): string {
  const s = str(v, path, 256);
  if (!HEADER_NAME.test(s)) throw new ValidationError(path, `invalid header name ${JSON.stringify(s)}`);
  return s.toLowerCase();
}

function array(v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw new ValidationError(path, 'must be a list');
  if (v.length > max) throw new ValidationError(path, `must have at most ${max} entries`);
  return v;
}

function stringMap(v: unknown, path: string, keyCheck: (k: string, p: string) => string): Record<string, string> {
  if (!isObject(v)) throw new ValidationError(path, 'must be a map of strings');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) out[keyCheck(k, at(path, k))] = str(val, at(path, k));
  return out;
}

/** Visible characters, spaces and tabs only: a line break in a value would split the message head. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** A request path: no spaces or control characters (it goes into the request line). */
const PATH_CHARS = /^[\x21-\x7e\x80-\xff]*$/;

/** A map of header names to values, both checked (the agent writes them into message heads as they are). */
function headerMap(v: unknown, path: string): Record<string, string> {
  const out = stringMap(v, path, headerName);
  for (const [k, val] of Object.entries(out)) {
    if (!HEADER_VALUE.test(val)) throw new ValidationError(at(path, k), 'must not contain line breaks or control characters');
  }
  return out;
}

function pathString(v: unknown, path: string, max: number = PolicyLimits.headerValue): string {
  const s = str(v, path, max);
  if (!PATH_CHARS.test(s)) throw new ValidationError(path, 'must not contain spaces or control characters (percent-encode them)');
  return s;
}

/** Copies only the keys that are present, so the stored form has no `undefined` and prints back unchanged. */
function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function onlyOne(o: Record<string, unknown>, keys: readonly string[], path: string, required: boolean): string | undefined {
  const present = keys.filter((k) => o[k] !== undefined);
  if (present.length > 1) throw new ValidationError(path, `set only one of ${keys.join(', ')} (got ${present.join(', ')})`);
  if (required && present.length === 0) throw new ValidationError(path, `needs one of ${keys.join(', ')}`);
  return present[0];
}

function pathMatch(v: unknown, path: string): PathMatch {
  const o = obj(v, path, ['exact', 'prefix', 'regex']);
  const which = onlyOne(o, ['exact', 'prefix', 'regex'], path, true) as keyof PathMatch;
  const value = which === 'regex' ? regex(o.regex, at(path, 'regex')) : str(o[which], at(path, which));
  if (which !== 'regex' && !value.startsWith('/')) throw new ValidationError(at(path, which), 'must start with "/"');
  return { [which]: value };
}

function valueMatch(v: unknown, path: string, isHeader: boolean): ValueMatch {
  const o = obj(v, path, ['name', 'exact', 'regex', 'present']);
  const name = isHeader ? headerName(o.name, at(path, 'name')) : str(o.name, at(path, 'name'), 256);
  if (name === '') throw new ValidationError(at(path, 'name'), 'is required');
  const which = onlyOne(o, ['exact', 'regex', 'present'], path, true);
  if (which === 'present') {
    if (typeof o.present !== 'boolean') throw new ValidationError(at(path, 'present'), 'must be true or false');
    return { name, present: o.present };
  }
  if (which === 'regex') return { name, regex: regex(o.regex, at(path, 'regex')) };
  return { name, exact: str(o.exact, at(path, 'exact')) };
}

function ruleMatch(v: unknown, path: string): RuleMatch {
  const o = obj(v, path, ['path', 'methods', 'headers', 'query']);
  return defined({
    path: o.path === undefined ? undefined : pathMatch(o.path, at(path, 'path')),
    methods:
      o.methods === undefined
        ? undefined
        : array(o.methods, at(path, 'methods'), METHODS.length).map((m, i) => {
            const s = str(m, at(at(path, 'methods'), i)).toUpperCase();
            if (!METHODS.includes(s)) throw new ValidationError(at(at(path, 'methods'), i), `unknown method ${JSON.stringify(m)}`);
            return s;
          }),
    headers:
      o.headers === undefined
        ? undefined
        : array(o.headers, at(path, 'headers'), 64).map((h, i) => valueMatch(h, at(at(path, 'headers'), i), true)),
    query:
      o.query === undefined
        ? undefined
        : array(o.query, at(path, 'query'), 64).map((q, i) => valueMatch(q, at(at(path, 'query'), i), false)),
  });
}

function destination(v: unknown, path: string): Destination {
  const o = obj(v, path, ['service', 'tags', 'weight']);
  return defined({
    service: o.service === undefined ? undefined : validateServiceName(o.service, at(path, 'service')),
    tags: o.tags === undefined ? undefined : validateTags(o.tags, at(path, 'tags')),
    weight: o.weight === undefined ? undefined : int(o.weight, at(path, 'weight'), 0, 10_000),
  });
}

function headerEdits(v: unknown, path: string): HeaderEdits {
  const o = obj(v, path, ['set', 'remove']);
  return defined({
    set: o.set === undefined ? undefined : headerMap(o.set, at(path, 'set')),
    remove:
      o.remove === undefined ? undefined : array(o.remove, at(path, 'remove'), 64).map((h, i) => headerName(h, at(at(path, 'remove'), i))),
  });
}

function redirect(v: unknown, path: string): Redirect {
  const o = obj(v, path, ['host', 'path', 'status']);
  const r: Redirect = defined({
    host: o.host === undefined ? undefined : pathString(o.host, at(path, 'host'), 255),
    path: o.path === undefined ? undefined : pathString(o.path, at(path, 'path')),
    status: o.status === undefined ? undefined : int(o.status, at(path, 'status'), 300, 399),
  });
  if (r.status !== undefined && !REDIRECT_STATUS.includes(r.status)) {
    throw new ValidationError(at(path, 'status'), `must be one of ${REDIRECT_STATUS.join(', ')}`);
  }
  if (r.path !== undefined && !r.path.startsWith('/')) throw new ValidationError(at(path, 'path'), 'must start with "/"');
  return r;
}

function directResponse(v: unknown, path: string): DirectResponse {
  const o = obj(v, path, ['status', 'body', 'headers']);
  return defined({
    status: int(o.status, at(path, 'status'), 200, 599),
    body: o.body === undefined ? undefined : str(o.body, at(path, 'body'), PolicyLimits.body),
    headers: o.headers === undefined ? undefined : headerMap(o.headers, at(path, 'headers')),
  });
}

function retry(v: unknown, path: string): RetryPolicy {
  const o = obj(v, path, ['attempts', 'on', 'backoff']);
  const r: RetryPolicy = defined({
    attempts: int(o.attempts, at(path, 'attempts'), 0, 10),
    on:
      o.on === undefined
        ? undefined
        : array(o.on, at(path, 'on'), RETRY_CONDITIONS.length).map((c, i) => {
            const s = str(c, at(at(path, 'on'), i));
            if (!(RETRY_CONDITIONS as readonly string[]).includes(s)) {
              throw new ValidationError(
                at(at(path, 'on'), i),
                `unknown condition ${JSON.stringify(s)} (expected one of: ${RETRY_CONDITIONS.join(', ')})`,
              );
            }
            return s;
          }),
    backoff: undefined as RetryPolicy['backoff'],
  });
  if (o.backoff !== undefined) {
    const b = obj(o.backoff, at(path, 'backoff'), ['base', 'max']);
    r.backoff = defined({
      base: b.base === undefined ? undefined : duration(b.base, at(at(path, 'backoff'), 'base')),
      max: b.max === undefined ? undefined : duration(b.max, at(at(path, 'backoff'), 'max')),
    });
  }
  return r;
}

function fault(v: unknown, path: string): FaultPolicy {
  const o = obj(v, path, ['delay', 'abort']);
  const f: FaultPolicy = {};
  if (o.delay !== undefined) {
    const d = obj(o.delay, at(path, 'delay'), ['percent', 'duration']);
    f.delay = {
      percent: percent(d.percent, at(at(path, 'delay'), 'percent')),
      duration: duration(d.duration, at(at(path, 'delay'), 'duration')),
    };
  }
  if (o.abort !== undefined) {
    const a = obj(o.abort, at(path, 'abort'), ['percent', 'status']);
    f.abort = {
      percent: percent(a.percent, at(at(path, 'abort'), 'percent')),
      status: int(a.status, at(at(path, 'abort'), 'status'), 200, 599),
    };
  }
  return f;
}

const RULE_KEYS = [
  'name',
  'match',
  'route',
  'redirect',
  'directResponse',
  'rewritePrefix',
  'requestHeaders',
  'responseHeaders',
  'timeout',
  'perTryTimeout',
  'retry',
  'fault',
] as const;

function rule(v: unknown, path: string): Rule {
  const o = obj(v, path, RULE_KEYS);
  onlyOne(o, ['route', 'redirect', 'directResponse'], path, true);
  const r: Rule = defined({
    name: o.name === undefined ? undefined : str(o.name, at(path, 'name'), 63),
    match: o.match === undefined ? undefined : ruleMatch(o.match, at(path, 'match')),
    route: undefined as Destination[] | undefined,
    redirect: o.redirect === undefined ? undefined : redirect(o.redirect, at(path, 'redirect')),
    directResponse: o.directResponse === undefined ? undefined : directResponse(o.directResponse, at(path, 'directResponse')),
    rewritePrefix: o.rewritePrefix === undefined ? undefined : pathString(o.rewritePrefix, at(path, 'rewritePrefix')),
    requestHeaders: o.requestHeaders === undefined ? undefined : headerEdits(o.requestHeaders, at(path, 'requestHeaders')),
    responseHeaders: o.responseHeaders === undefined ? undefined : headerEdits(o.responseHeaders, at(path, 'responseHeaders')),
    timeout: o.timeout === undefined ? undefined : duration(o.timeout, at(path, 'timeout')),
    perTryTimeout: o.perTryTimeout === undefined ? undefined : duration(o.perTryTimeout, at(path, 'perTryTimeout')),
    retry: o.retry === undefined ? undefined : retry(o.retry, at(path, 'retry')),
    fault: o.fault === undefined ? undefined : fault(o.fault, at(path, 'fault')),
  });
  if (o.route !== undefined) {
    const list = array(o.route, at(path, 'route'), PolicyLimits.destinations);
    if (list.length === 0) throw new ValidationError(at(path, 'route'), 'needs at least one destination');
    r.route = list.map((d, i) => destination(d, at(at(path, 'route'), i)));
    if (r.route.every((d) => (d.weight ?? 1) === 0)) throw new ValidationError(at(path, 'route'), 'weights must not all be 0');
  }
  if (r.name !== undefined && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(r.name)) {
    throw new ValidationError(at(path, 'name'), 'use lowercase letters, digits and "-"');
  }
  if (r.rewritePrefix !== undefined) {
    if (!r.route) throw new ValidationError(at(path, 'rewritePrefix'), 'only applies to a rule with route');
    if (r.match?.path?.prefix === undefined)
      throw new ValidationError(at(path, 'rewritePrefix'), 'needs match.path.prefix (the part it replaces)');
    if (!r.rewritePrefix.startsWith('/')) throw new ValidationError(at(path, 'rewritePrefix'), 'must start with "/"');
  }
  return r;
}

function metadata(v: unknown, path: string): { service: string } {
  const o = obj(v, path, ['service']);
  return { service: validateServiceName(o.service, at(path, 'service')) };
}

function routesDocument(o: Record<string, unknown>): RoutesDocument {
  rejectUnknownKeys(o, ['apiVersion', 'kind', 'metadata', 'rules'], '');
  const rules = array(o.rules ?? [], 'rules', PolicyLimits.rules).map((r, i) => rule(r, at('rules', i)));
  const names = new Map<string, number>();
  rules.forEach((r, i) => {
    if (r.name === undefined) return;
    const first = names.get(r.name);
    if (first !== undefined) throw new ValidationError(`rules[${i}].name`, `duplicate of rules[${first}].name`);
    names.set(r.name, i);
  });
  return { apiVersion: POLICY_API_VERSION, kind: KIND_ROUTES, metadata: metadata(o.metadata, 'metadata'), rules };
}

function loadBalancer(v: unknown, path: string): LoadBalancer {
  const o = obj(v, path, ['policy', 'hashOn']);
  const policy = str(o.policy, at(path, 'policy'));
  if (!(LB_POLICIES as readonly string[]).includes(policy)) {
    throw new ValidationError(at(path, 'policy'), `unknown policy ${JSON.stringify(policy)} (expected one of: ${LB_POLICIES.join(', ')})`);
  }
  const lb: LoadBalancer = { policy: policy as LoadBalancer['policy'] };
  if (policy === 'consistent-hash') {
    const h = obj(o.hashOn, at(path, 'hashOn'), ['header', 'cookie']);
    const which = onlyOne(h, ['header', 'cookie'], at(path, 'hashOn'), true);
    lb.hashOn =
      which === 'header'
        ? { header: headerName(h.header, at(at(path, 'hashOn'), 'header')) }
        : { cookie: str(h.cookie, at(at(path, 'hashOn'), 'cookie'), 256) };
  } else if (o.hashOn !== undefined) throw new ValidationError(at(path, 'hashOn'), 'only applies to policy consistent-hash');
  return lb;
}

function servicePolicyDocument(o: Record<string, unknown>): ServicePolicyDocument {
  rejectUnknownKeys(o, ['apiVersion', 'kind', 'metadata', 'loadBalancer', 'outlierDetection', 'circuitBreaker', 'rateLimit'], '');
  const doc: ServicePolicyDocument = {
    apiVersion: POLICY_API_VERSION,
    kind: KIND_SERVICE_POLICY,
    metadata: metadata(o.metadata, 'metadata'),
  };
  if (o.loadBalancer !== undefined) doc.loadBalancer = loadBalancer(o.loadBalancer, 'loadBalancer');
  if (o.outlierDetection !== undefined) {
    const d = obj(o.outlierDetection, 'outlierDetection', ['consecutiveErrors', 'baseEjectionTime', 'maxEjectionPercent']);
    doc.outlierDetection = defined<OutlierDetection>({
      consecutiveErrors:
        d.consecutiveErrors === undefined ? undefined : int(d.consecutiveErrors, 'outlierDetection.consecutiveErrors', 1, 1000),
      baseEjectionTime: d.baseEjectionTime === undefined ? undefined : duration(d.baseEjectionTime, 'outlierDetection.baseEjectionTime'),
      maxEjectionPercent:
        d.maxEjectionPercent === undefined ? undefined : percent(d.maxEjectionPercent, 'outlierDetection.maxEjectionPercent'),
    });
  }
  if (o.circuitBreaker !== undefined) {
    const c = obj(o.circuitBreaker, 'circuitBreaker', ['maxRequests', 'maxPendingRequests', 'maxRetries']);
    const n = (k: string) => (c[k] === undefined ? undefined : int(c[k], `circuitBreaker.${k}`, 1, 1_000_000));
    doc.circuitBreaker = defined<CircuitBreaker>({
      maxRequests: n('maxRequests'),
      maxPendingRequests: n('maxPendingRequests'),
      maxRetries: n('maxRetries'),
    });
  }
  if (o.rateLimit !== undefined) {
    const r = obj(o.rateLimit, 'rateLimit', ['requestsPerSecond', 'burst']);
    const rps = r.requestsPerSecond;
    if (typeof rps !== 'number' || !Number.isFinite(rps) || rps <= 0 || rps > 1_000_000) {
      throw new ValidationError('rateLimit.requestsPerSecond', 'must be a number > 0 and <= 1000000');
    }
    doc.rateLimit = defined<RateLimit>({
      requestsPerSecond: rps,
      burst: r.burst === undefined ? undefined : int(r.burst, 'rateLimit.burst', 1, 1_000_000),
    });
  }
  return doc;
}

/** Validates one document of any kind; errors name the field path within the document. */
export function validatePolicyDocument(raw: unknown): PolicyDocument {
  if (!isObject(raw)) throw new ValidationError('', 'a document must be a mapping with apiVersion, kind and metadata');
  if (raw.apiVersion !== POLICY_API_VERSION) {
    throw new ValidationError('apiVersion', `must be ${JSON.stringify(POLICY_API_VERSION)}, got ${JSON.stringify(raw.apiVersion ?? null)}`);
  }
  if (raw.kind === KIND_ROUTES) return routesDocument(raw);
  if (raw.kind === KIND_SERVICE_POLICY) return servicePolicyDocument(raw);
  throw new ValidationError('kind', `must be one of ${POLICY_KINDS.join(', ')}, got ${JSON.stringify(raw.kind ?? null)}`);
}

/** Parses and validates the JSON the agent receives on "policy/<service>" (a NACK names the failing field). */
export function parsePolicyBundle(json: string, service: string): PolicyBundle {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ValidationError('policy.json', `invalid JSON (${(err as Error).message})`);
  }
  const o = obj(raw, 'policy', ['service', 'routes', 'policy']);
  if (o.service !== service)
    throw new ValidationError('policy.service', `${JSON.stringify(o.service)} does not match the resource name's service "${service}"`);
  const bundle: PolicyBundle = { service };
  const one = (key: 'routes' | 'policy', kind: string) => {
    if (o[key] === undefined) return undefined;
    try {
      const doc = validatePolicyDocument(o[key]);
      if (doc.kind !== kind) throw new ValidationError('kind', `must be ${kind}`);
      if (doc.metadata.service !== service) throw new ValidationError('metadata.service', `must be "${service}"`);
      return doc;
    } catch (err) {
      if (err instanceof ValidationError)
        throw new ValidationError(at(key, err.field), err.message.slice(err.field ? err.field.length + 2 : 0));
      throw err;
    }
  };
  const routes = one('routes', KIND_ROUTES);
  const policy = one('policy', KIND_SERVICE_POLICY);
  if (routes) bundle.routes = routes as RoutesDocument;
  if (policy) bundle.policy = policy as ServicePolicyDocument;
  return bundle;
}
