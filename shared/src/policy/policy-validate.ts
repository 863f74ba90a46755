/**
 * The one validator of traffic-policy documents, used by the CLI (dry run),
 * the control plane (authoritative, before anything is stored) and the agent
 * (on receipt; a failure is a NACK). It checks the schema only: shape, unknown
 * fields, ranges, durations, regexes RE2 must compile, headers a policy may
 * edit. Cross-references (does the service exist, does any instance carry a
 * tag) need the registry and live in policy-crossref.ts. Every problem of a
 * document is reported at once (a PolicyValidationError lists them), each
 * naming the field path (`rules[1].match.path.regex: invalid regular expression ...`).
 */
import { ValidationError } from '../errors.js';
import { isObject, validateServiceName } from '../validate.js';
import { externalServiceDocument } from './policy-external.js';
import {
  type AccessPolicyDocument,
  type CircuitBreaker,
  KIND_ACCESS_POLICY,
  KIND_EXTERNAL_SERVICE,
  KIND_ROUTES,
  KIND_SERVICE_POLICY,
  type LoadBalancer,
  type OutlierDetection,
  POLICY_API_VERSION,
  POLICY_KINDS,
  type PolicyBundle,
  type PolicyDocument,
  type RateLimit,
  type RoutesDocument,
  type ServicePolicyDocument,
} from './policy-types.js';
import { accessMode, accessRules } from './policy-validate-access.js';
import {
  at,
  defined,
  duration,
  type FieldProblem,
  headerName,
  int,
  obj,
  onlyOne,
  opt,
  PolicyValidationError,
  Problems,
  percent,
  problemsOf,
  str,
} from './policy-validate-fields.js';
import { rules } from './policy-validate-routes.js';

export { ACCESS_ACTIONS, ACCESS_MODES } from './policy-validate-access.js';
export { type FieldProblem, PolicyLimits, PolicyValidationError, problemsOf } from './policy-validate-fields.js';
export { RETRY_CONDITIONS } from './policy-validate-routes.js';
export const LB_POLICIES = ['least-request', 'round-robin', 'consistent-hash'] as const;

function metadata(c: Problems, v: unknown): { service: string } | undefined {
  const o = obj(c, v, 'metadata', ['service']);
  const service = o && c.take(() => validateServiceName(o.service, 'metadata.service'));
  return service === undefined ? undefined : { service };
}

function routesDocument(c: Problems, o: Record<string, unknown>): RoutesDocument {
  obj(c, o, '', ['apiVersion', 'kind', 'metadata', 'rules']);
  const meta = metadata(c, o.metadata);
  const list = rules(c, o.rules ?? []);
  c.throwIfAny();
  return { apiVersion: POLICY_API_VERSION, kind: KIND_ROUTES, metadata: meta as { service: string }, rules: list };
}

function loadBalancer(c: Problems, v: unknown, path: string): LoadBalancer | undefined {
  const o = obj(c, v, path, ['policy', 'hashOn']);
  if (!o) return undefined;
  const policy = c.take(() => {
    const p = str(o.policy, at(path, 'policy'));
    if (!(LB_POLICIES as readonly string[]).includes(p))
      throw new ValidationError(at(path, 'policy'), `unknown policy ${JSON.stringify(p)} (expected one of: ${LB_POLICIES.join(', ')})`);
    return p as LoadBalancer['policy'];
  });
  if (policy === undefined) return undefined;
  const lb: LoadBalancer = { policy };
  if (policy === 'consistent-hash') {
    const hp = at(path, 'hashOn');
    const h = obj(c, o.hashOn, hp, ['header', 'cookie']);
    const which = h && c.take(() => onlyOne(h, ['header', 'cookie'], hp, true));
    if (h && which === 'header') lb.hashOn = defined({ header: opt(c, h.header, at(hp, 'header'), headerName) });
    if (h && which === 'cookie') lb.hashOn = defined({ cookie: opt(c, h.cookie, at(hp, 'cookie'), (x, p) => str(x, p, 256)) });
  } else if (o.hashOn !== undefined) c.add(at(path, 'hashOn'), 'only applies to policy consistent-hash');
  return lb;
}

function outlierDetection(c: Problems, v: unknown): OutlierDetection | undefined {
  const path = 'outlierDetection';
  const d = obj(c, v, path, ['consecutiveErrors', 'baseEjectionTime', 'maxEjectionPercent']);
  if (!d) return undefined;
  return defined<OutlierDetection>({
    consecutiveErrors: opt(c, d.consecutiveErrors, at(path, 'consecutiveErrors'), (x, p) => int(x, p, 1, 1000)),
    baseEjectionTime: opt(c, d.baseEjectionTime, at(path, 'baseEjectionTime'), duration),
    maxEjectionPercent: opt(c, d.maxEjectionPercent, at(path, 'maxEjectionPercent'), percent),
  });
}

function circuitBreaker(c: Problems, v: unknown): CircuitBreaker | undefined {
  const o = obj(c, v, 'circuitBreaker', ['maxRequests', 'maxPendingRequests', 'maxRetries']);
  if (!o) return undefined;
  const n = (k: string) => opt(c, o[k], `circuitBreaker.${k}`, (x, p) => int(x, p, 1, 1_000_000));
  return defined<CircuitBreaker>({
    maxRequests: n('maxRequests'),
    maxPendingRequests: n('maxPendingRequests'),
    maxRetries: n('maxRetries'),
  });
}

function rateLimit(c: Problems, v: unknown): RateLimit | undefined {
  const r = obj(c, v, 'rateLimit', ['requestsPerSecond', 'burst']);
  if (!r) return undefined;
  const rps = r.requestsPerSecond;
  if (typeof rps !== 'number' || !Number.isFinite(rps) || rps <= 0 || rps > 1_000_000) {
    c.add('rateLimit.requestsPerSecond', 'must be a number > 0 and <= 1000000');
  }
  return defined<RateLimit>({
    requestsPerSecond: rps as number,
    burst: opt(c, r.burst, 'rateLimit.burst', (x, p) => int(x, p, 1, 1_000_000)),
  });
}

function servicePolicyDocument(c: Problems, o: Record<string, unknown>): ServicePolicyDocument {
  obj(c, o, '', ['apiVersion', 'kind', 'metadata', 'loadBalancer', 'outlierDetection', 'circuitBreaker', 'rateLimit']);
  const meta = metadata(c, o.metadata);
  const doc: ServicePolicyDocument = defined({
    apiVersion: POLICY_API_VERSION,
    kind: KIND_SERVICE_POLICY,
    metadata: meta as { service: string },
    loadBalancer: o.loadBalancer === undefined ? undefined : loadBalancer(c, o.loadBalancer, 'loadBalancer'),
    outlierDetection: o.outlierDetection === undefined ? undefined : outlierDetection(c, o.outlierDetection),
    circuitBreaker: o.circuitBreaker === undefined ? undefined : circuitBreaker(c, o.circuitBreaker),
    rateLimit: o.rateLimit === undefined ? undefined : rateLimit(c, o.rateLimit),
  });
  c.throwIfAny();
  return doc;
}

function accessPolicyDocument(c: Problems, o: Record<string, unknown>): AccessPolicyDocument {
  obj(c, o, '', ['apiVersion', 'kind', 'metadata', 'mode', 'rules']);
  const meta = metadata(c, o.metadata);
  const mode = opt(c, o.mode, 'mode', accessMode);
  const list = accessRules(c, o.rules ?? []);
  c.throwIfAny();
  return defined({
    apiVersion: POLICY_API_VERSION,
    kind: KIND_ACCESS_POLICY,
    metadata: meta as { service: string },
    mode,
    rules: list,
  });
}

/**
 * Validates one document of any kind. Throws a PolicyValidationError listing
 * every problem of the document, each naming its field path.
 */
export function validatePolicyDocument(raw: unknown): PolicyDocument {
  if (!isObject(raw)) throw new ValidationError('', 'a document must be a mapping with apiVersion, kind and metadata');
  const c = new Problems();
  if (raw.apiVersion !== POLICY_API_VERSION) {
    c.add('apiVersion', `must be ${JSON.stringify(POLICY_API_VERSION)}, got ${JSON.stringify(raw.apiVersion ?? null)}`);
  }
  if (raw.kind === KIND_ROUTES) return routesDocument(c, raw);
  if (raw.kind === KIND_SERVICE_POLICY) return servicePolicyDocument(c, raw);
  if (raw.kind === KIND_ACCESS_POLICY) return accessPolicyDocument(c, raw);
  if (raw.kind === KIND_EXTERNAL_SERVICE) return externalServiceDocument(c, raw);
  c.add('kind', `must be one of ${POLICY_KINDS.join(', ')}, got ${JSON.stringify(raw.kind ?? null)}`);
  throw new PolicyValidationError(c.list);
}

/**
 * Parses and validates the JSON the agent receives on "policy/<service>".
 * A failure lists every problem, field paths prefixed with `routes.`,
 * `policy.` or `access.` (the NACK's message).
 */
export function parsePolicyBundle(json: string, service: string): PolicyBundle {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ValidationError('policy.json', `invalid JSON (${(err as Error).message})`);
  }
  const c = new Problems();
  const o = obj(c, raw, 'policy', ['service', 'routes', 'policy', 'access']);
  c.throwIfAny();
  const top = o as Record<string, unknown>;
  if (top.service !== service)
    c.add('policy.service', `${JSON.stringify(top.service)} does not match the resource name's service "${service}"`);
  const bundle: PolicyBundle = { service };
  const one = (key: 'routes' | 'policy' | 'access', kind: string): PolicyDocument | undefined => {
    if (top[key] === undefined) return undefined;
    const prefixed = (list: readonly FieldProblem[]) => {
      for (const p of list) c.add(at(key, p.field), p.problem);
    };
    try {
      const doc = validatePolicyDocument(top[key]);
      if (doc.kind !== kind) c.add(at(key, 'kind'), `must be ${kind}`);
      if (doc.metadata.service !== service) c.add(at(key, 'metadata.service'), `must be "${service}"`);
      return doc;
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      prefixed(problemsOf(err));
      return undefined;
    }
  };
  const routes = one('routes', KIND_ROUTES);
  const policy = one('policy', KIND_SERVICE_POLICY);
  const access = one('access', KIND_ACCESS_POLICY);
  c.throwIfAny();
  if (routes) bundle.routes = routes as RoutesDocument;
  if (policy) bundle.policy = policy as ServicePolicyDocument;
  if (access) bundle.access = access as AccessPolicyDocument;
  return bundle;
}
