/**
 * `GET /v1/explain?url=http://orders/path&from=web&method=GET&header=x-user:1`
 * on the agent's admin API: what this agent would do with that request, by
 * running the agent's own matching code (policy-match.ts) against the config
 * it holds now — not a re-implementation. It reports the rule that matched and
 * why each earlier one did not, the destinations with weights, the candidate
 * endpoints with health, ejection and load, the timeouts, retry and fault
 * settings, the rate limit, and the access decision for the `from` source
 * (policy-access.ts: allow / deny / shadow_deny and the rule, or the mesh
 * default, that made it). Nothing is sent and no token is taken.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  formatDuration,
  identityFromSpiffeId,
  MeshError,
  parseDuration,
  type SourceIdentity,
  ValidationError,
  validateServiceName,
} from '@weft/shared';
import type { EndpointSource, ServiceSnapshot } from '../contracts.js';
import type { AccessView } from './policy-access-view.js';
import { explainMatch, matchTarget } from './policy-match.js';
import type { OutboundPolicy } from './policy-outbound.js';

export interface ExplainQuery {
  url: string;
  from?: string;
  method?: string;
  headers: string[];
}

/** Parses the explain query string; errors name the parameter. */
export function parseExplainQuery(params: URLSearchParams): ExplainQuery {
  const url = params.get('url');
  if (!url) throw new ValidationError('url', 'is required, e.g. url=http://orders/path');
  return { url, from: params.get('from') ?? undefined, method: params.get('method') ?? undefined, headers: params.getAll('header') };
}

/**
 * The source explain evaluates access for: `--from web` is the service's
 * identity, `--from spiffe://td/svc/web` that exact identity (use it for
 * rules written with SPIFFE IDs); without --from, an unauthenticated source.
 */
export function explainSource(from: string | undefined): SourceIdentity | undefined {
  if (from === undefined || from === '') return undefined;
  if (from.startsWith('spiffe://')) {
    try {
      return identityFromSpiffeId(from);
    } catch (err) {
      throw new ValidationError('from', (err as Error).message.replace(/^spiffeId: /, ''));
    }
  }
  return { spiffeId: '', service: validateServiceName(from, 'from'), authenticated: true };
}

/** Access as explain reports it: what the destination's agent decides for this source. */
export interface ExplainAccess {
  view: AccessView;
  /** Whether this agent enforces access (AccessOptions.enforce). */
  enforced: boolean;
}

function accessView(a: ExplainAccess | undefined, service: string, from: string | undefined, method: string, pathAndQuery: string) {
  if (a === undefined) return null;
  const source = explainSource(from);
  const e = a.view.explain(service, source, method, pathAndQuery);
  return {
    ...e,
    source: source ?? null,
    enforced: a.enforced,
    decidedBy: "the destination instance's agent (inbound), or the calling agent for an instance on its own host",
    note: a.enforced
      ? undefined
      : 'access is not enforced by this agent yet (it is switched on with the mTLS hop): this is the decision it would make',
  };
}

/** The agent-wide defaults a request gets where no rule overrides them. */
export interface ExplainDefaults {
  requestTimeoutMs: number;
  perTryTimeoutMs: number;
  maxRetries: number;
}

/** Timeouts and retry policy in force for a request under `rule` (undefined: no rule matched). */
function effectiveLimits(d: ExplainDefaults, rule?: { timeout?: string; perTryTimeout?: string; retry?: unknown }) {
  return {
    timeouts: {
      deadline: rule?.timeout ?? `${formatDuration(d.requestTimeoutMs)} (agent default)`,
      perTry: rule?.perTryTimeout ?? `${formatDuration(d.perTryTimeoutMs)} (agent default)`,
      deadlineMs: rule?.timeout ? parseDuration(rule.timeout, 'timeout') : d.requestTimeoutMs,
    },
    retry: rule?.retry ?? {
      attempts: d.maxRetries,
      on: 'connect failures (any method); reset, per-try timeout, 502/503/504 (idempotent methods)',
      budget: 'agent retry budget',
      source: 'agent default',
    },
  };
}

export async function explainRequest(
  q: ExplainQuery,
  policy: OutboundPolicy,
  endpoints: EndpointSource,
  defaults: ExplainDefaults,
  access?: ExplainAccess,
): Promise<Record<string, unknown>> {
  let url: URL;
  try {
    url = new URL(q.url);
  } catch {
    throw new ValidationError('url', `invalid URL ${JSON.stringify(q.url)}`);
  }
  const service = validateServiceName(url.hostname, 'url');
  const method = (q.method ?? 'GET').toUpperCase();
  const headers: IncomingHttpHeaders = {};
  q.headers.forEach((h, i) => {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new ValidationError(`header[${i}]`, `must be "name: value", got ${JSON.stringify(h)}`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  });
  const pathAndQuery = `${url.pathname}${url.search}`;
  const { path, query } = matchTarget(pathAndQuery);
  // A service this agent never called: subscribe (policy with endpoints) and wait, so explain shows the policy in force.
  const pending = access?.view.ready(service);
  if (pending !== undefined) await pending;
  const compiled = policy.view.get(service);
  const rejected = policy.view.rejection(service) ?? null;
  const base = {
    request: { from: q.from ?? null, method, service, path: pathAndQuery, matchedPath: path, headers },
    policyRejected: rejected,
    access: accessView(access, service, q.from, method, pathAndQuery),
  };
  if (!compiled) {
    return {
      ...base,
      policyVersion: null,
      matched: null,
      note: 'no traffic policy for this service: default route (all endpoints, least-request)',
      destinations: [await destinationView(service, [], 1, 1, policy, endpoints)],
      ...effectiveLimits(defaults),
    };
  }
  const { matched, skipped } = explainMatch(compiled, { method, path, query, headers });
  const rl = compiled.rateLimit;
  const rateLimit = rl ? { requestsPerSecond: rl.ratePerSec, burst: rl.burst, tokensNow: rl.available() } : null;
  if (!matched) {
    return {
      ...base,
      policyVersion: compiled.version,
      matched: null,
      skipped,
      note: 'no rule matched: default route (all endpoints)',
      rateLimit,
      destinations: [await destinationView(service, [], 1, 1, policy, endpoints)],
      ...effectiveLimits(defaults),
    };
  }
  const src = matched.source;
  const action = src.directResponse ? 'directResponse' : src.redirect ? 'redirect' : 'route';
  const destinations = [];
  for (const d of matched.destinations)
    destinations.push(await destinationView(d.service, d.tags, d.weight, matched.totalWeight, policy, endpoints));
  return {
    ...base,
    policyVersion: compiled.version,
    matched: { id: matched.id, name: src.name ?? null, rule: src },
    skipped,
    action,
    destinations,
    rewrite: src.rewritePrefix && matched.pathPrefix ? `${matched.pathPrefix} -> ${src.rewritePrefix}` : null,
    ...effectiveLimits(defaults, src),
    fault: src.fault ?? null,
    rateLimit,
    requestHeaders: src.requestHeaders ?? null,
    responseHeaders: src.responseHeaders ?? null,
  };
}

async function destinationView(
  service: string,
  tags: readonly string[],
  weight: number,
  total: number,
  policy: OutboundPolicy,
  source: EndpointSource,
): Promise<Record<string, unknown>> {
  let snap: ServiceSnapshot;
  try {
    snap = await source.resolve(service);
  } catch (err) {
    return {
      service,
      tags,
      weight,
      percent: round((100 * weight) / total),
      error: err instanceof MeshError ? `${err.code}: ${err.message}` : String(err),
    };
  }
  const load = policy.loadView();
  const endpoints = snap.endpoints
    .filter((e) => tags.every((t) => e.tags.includes(t)))
    .map((e) => ({
      instanceId: e.instanceId,
      agent: e.agentId,
      address: `${e.address}:${e.port}`,
      tags: e.tags,
      health: e.health,
      ejected: load.isEjected(e.instanceId),
      active: load.active(e.instanceId),
    }));
  return { service, tags, weight, percent: round((100 * weight) / total), version: snap.version, endpoints };
}

const round = (x: number) => Math.round(x * 100) / 100;
