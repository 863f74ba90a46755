/**
 * Mesh identities as access policy sees them. The control plane is the mesh
 * CA and issues SPIFFE IDs: `spiffe://<trust-domain>/svc/<service>` for a
 * service's workloads and `spiffe://<trust-domain>/agent/<agent-id>` for an
 * agent itself. The identity of a request's source is taken from the
 * connection (the caller's verified certificate on the inbound side, the
 * local app's proxy credential on the outbound side), never from a header.
 */
import { ValidationError } from '../errors.js';
import { validateInstanceId, validateServiceName } from '../validate.js';

/** Who sent a request, as the listener established it from the connection. */
export interface SourceIdentity {
  /** The SPIFFE ID ("" when the source is not authenticated). */
  readonly spiffeId: string;
  /** The service of a `/svc/<name>` ID. */
  readonly service?: string;
  /** The agent of an `/agent/<id>` ID. */
  readonly agentId?: string;
  /** True only when the listener verified the identity (a certificate of the mesh CA, a valid proxy credential). */
  readonly authenticated: boolean;
}

/** What the mesh does with a request no AccessPolicy rule decides (`weft control-plane --default-access`). */
export const DEFAULT_ACCESS_MODES = ['all-authenticated', 'deny'] as const;
export type DefaultAccess = (typeof DEFAULT_ACCESS_MODES)[number];
export const DEFAULT_ACCESS: DefaultAccess = 'all-authenticated';

export function validateDefaultAccess(v: unknown, field: string): DefaultAccess {
  if (typeof v !== 'string' || !(DEFAULT_ACCESS_MODES as readonly string[]).includes(v))
    throw new ValidationError(field, `must be one of ${DEFAULT_ACCESS_MODES.join(', ')}, got ${JSON.stringify(v ?? null)}`);
  return v as DefaultAccess;
}

/** A SPIFFE trust domain: lowercase letters, digits, '.', '-' and '_' (SPIFFE ID spec §2.1). */
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;

export interface ParsedSpiffeId {
  trustDomain: string;
  kind: 'svc' | 'agent';
  /** The service name or agent id; "*" for a wildcard pattern. */
  name: string;
}

/**
 * Parses a Weft SPIFFE ID (`spiffe://<td>/svc/<name>` or `spiffe://<td>/agent/<id>`).
 * With `allowWildcard`, the last segment may be `*` (any service / any agent
 * of that trust domain). Throws a ValidationError naming `field`.
 */
export function parseSpiffePattern(v: string, field: string, allowWildcard = false): ParsedSpiffeId {
  const m = /^spiffe:\/\/([^/]*)\/(svc|agent)\/([^/]*)$/.exec(v);
  if (!m)
    throw new ValidationError(field, `invalid SPIFFE ID ${JSON.stringify(v)}: expected spiffe://<trust-domain>/svc/<name> or /agent/<id>`);
  const [, trustDomain, kind, name] = m;
  if (!TRUST_DOMAIN.test(trustDomain))
    throw new ValidationError(
      field,
      `invalid trust domain ${JSON.stringify(trustDomain)}: use lowercase letters, digits, '.', '-' and '_'`,
    );
  if (!(allowWildcard && name === '*')) {
    if (kind === 'svc') validateServiceName(name, field);
    else validateInstanceId(name, field);
  }
  return { trustDomain, kind: kind as 'svc' | 'agent', name };
}

/** An authenticated identity from a SPIFFE ID (what the mTLS listener builds from a verified certificate). */
export function identityFromSpiffeId(spiffeId: string): SourceIdentity {
  const p = parseSpiffePattern(spiffeId, 'spiffeId');
  return p.kind === 'svc' ? { spiffeId, service: p.name, authenticated: true } : { spiffeId, agentId: p.name, authenticated: true };
}

/** How an identity reads in logs, bodies and explain. */
export function describeSource(source: SourceIdentity | undefined): string {
  if (source === undefined || !source.authenticated) return 'an unauthenticated source';
  return source.spiffeId || (source.service ? `service ${source.service}` : `agent ${source.agentId ?? '?'}`);
}
