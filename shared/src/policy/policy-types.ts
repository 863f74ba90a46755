/**
 * The traffic-policy documents an operator writes (YAML or JSON), after
 * validation. They keep the operator's spelling (durations stay "2s"), so
 * what is stored prints back as YAML that `weft apply` accepts unchanged;
 * the agent compiles them into its matcher (agent/src/policy).
 */

import type { ExternalServiceDocument } from './policy-external.js';

export const POLICY_API_VERSION = 'weft.dev/v1';
export const KIND_ROUTES = 'Routes';
export const KIND_SERVICE_POLICY = 'ServicePolicy';
export const KIND_ACCESS_POLICY = 'AccessPolicy';
/** policy-external.ts */
export const KIND_EXTERNAL_SERVICE = 'ExternalService';
export type PolicyKind = typeof KIND_ROUTES | typeof KIND_SERVICE_POLICY | typeof KIND_ACCESS_POLICY | typeof KIND_EXTERNAL_SERVICE;
export const POLICY_KINDS: readonly PolicyKind[] = [KIND_ROUTES, KIND_SERVICE_POLICY, KIND_ACCESS_POLICY, KIND_EXTERNAL_SERVICE];

export interface Metadata {
  service: string;
}

/** Exactly one of exact / prefix / regex. */
export interface PathMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

/** One of exact / regex / present (present: false = the header must be absent). */
export interface ValueMatch {
  name: string;
  exact?: string;
  regex?: string;
  present?: boolean;
}

export interface RuleMatch {
  path?: PathMatch;
  methods?: string[];
  headers?: ValueMatch[];
  query?: ValueMatch[];
}

export interface Destination {
  /** Defaults to the document's service. */
  service?: string;
  /** An endpoint qualifies when it carries every tag listed. */
  tags?: string[];
  /** Relative weight, 0..10000; default 1. */
  weight?: number;
}

export interface HeaderEdits {
  set?: Record<string, string>;
  remove?: string[];
}

export interface Redirect {
  /** Replaces the authority (host[:port]); default: unchanged. */
  host?: string;
  /** Replaces the path; default: unchanged. */
  path?: string;
  /** 301, 302, 303, 307 or 308; default 302. */
  status?: number;
}

export interface DirectResponse {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface RetryPolicy {
  /** Retries after the first try, 0..10 (0 = never retried). */
  attempts: number;
  /**
   * connect-failure, reset, 5xx (any 5xx answer, reset, per-try timeout, connect failure),
   * gateway-error (502/503/504, per-try timeout), retriable-4xx (409). Default: the proxy's own conditions.
   */
  on?: string[];
  backoff?: { base?: string; max?: string };
}

export interface FaultPolicy {
  delay?: { percent: number; duration: string };
  abort?: { percent: number; status: number };
}

export interface Rule {
  /** Optional; rule ids are "<service>/<index>" either way. */
  name?: string;
  match?: RuleMatch;
  /** Exactly one of route / redirect / directResponse. */
  route?: Destination[];
  redirect?: Redirect;
  directResponse?: DirectResponse;
  /** Replaces the matched path prefix (needs match.path.prefix) before forwarding. */
  rewritePrefix?: string;
  requestHeaders?: HeaderEdits;
  responseHeaders?: HeaderEdits;
  timeout?: string;
  perTryTimeout?: string;
  retry?: RetryPolicy;
  fault?: FaultPolicy;
}

export interface RoutesDocument {
  apiVersion: typeof POLICY_API_VERSION;
  kind: typeof KIND_ROUTES;
  metadata: Metadata;
  rules: Rule[];
}

export interface LoadBalancer {
  policy: 'least-request' | 'round-robin' | 'consistent-hash';
  hashOn?: { header?: string; cookie?: string };
}

export interface OutlierDetection {
  consecutiveErrors?: number;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
}

export interface CircuitBreaker {
  maxRequests?: number;
  maxPendingRequests?: number;
  maxRetries?: number;
}

export interface RateLimit {
  /** Tokens added per second. */
  requestsPerSecond: number;
  /** Bucket size; default = requestsPerSecond. */
  burst?: number;
}

export interface ServicePolicyDocument {
  apiVersion: typeof POLICY_API_VERSION;
  kind: typeof KIND_SERVICE_POLICY;
  metadata: Metadata;
  loadBalancer?: LoadBalancer;
  outlierDetection?: OutlierDetection;
  circuitBreaker?: CircuitBreaker;
  rateLimit?: RateLimit;
}

export type AccessAction = 'allow' | 'deny';
/** enforce: a deny answers 403 forbidden; shadow: a deny is logged and counted, and the request goes through. */
export type AccessMode = 'enforce' | 'shadow';

/** The request conditions an access rule may narrow by (matched as Routes match them, on the normalised path). */
export interface AccessMatch {
  path?: PathMatch;
  methods?: string[];
}

export interface AccessRule {
  /** Optional; rule ids are "<service>/<index>" either way. */
  name?: string;
  action: AccessAction;
  /**
   * Sources: a service name ("web"), a SPIFFE ID ("spiffe://prod/svc/web",
   * "spiffe://prod/agent/host-1"; "spiffe://prod/svc/*" = any service of that
   * trust domain) or "*" (any authenticated mesh identity). An unauthenticated
   * source never matches a rule.
   */
  from: string[];
  match?: AccessMatch;
}

/** Who may call `metadata.service`: rules in order, first match wins, no match = the mesh default. */
export interface AccessPolicyDocument {
  apiVersion: typeof POLICY_API_VERSION;
  kind: typeof KIND_ACCESS_POLICY;
  metadata: Metadata;
  /** Default enforce. */
  mode?: AccessMode;
  rules: AccessRule[];
}

export type PolicyDocument = RoutesDocument | ServicePolicyDocument | AccessPolicyDocument | ExternalServiceDocument;

/** What the agent receives for one service on "policy/<service>": the JSON of this object. */
export interface PolicyBundle {
  service: string;
  routes?: RoutesDocument;
  policy?: ServicePolicyDocument;
  access?: AccessPolicyDocument;
}
