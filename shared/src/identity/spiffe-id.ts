/**
 * SPIFFE IDs of the mesh: the only identity format the control plane and the
 * agents exchange (in a certificate's URI SAN).
 *   spiffe://<trust-domain>/agent/<agent-id>
 *   spiffe://<trust-domain>/svc/<service>
 *   spiffe://<trust-domain>/control-plane
 */
import { ValidationError } from '../errors.js';

export const DEFAULT_TRUST_DOMAIN = 'weft.local';

export type SpiffeId =
  | { kind: 'agent'; trustDomain: string; name: string }
  | { kind: 'svc'; trustDomain: string; name: string }
  | { kind: 'control-plane'; trustDomain: string };

const TRUST_DOMAIN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A trust domain as SPIFFE allows it (lower-case letters, digits, dots, dashes). */
export function validateTrustDomain(v: string, field: string): string {
  if (!TRUST_DOMAIN.test(v))
    throw new ValidationError(field, `must be a DNS-like name of lower-case letters, digits, "." and "-", got ${JSON.stringify(v)}`);
  return v;
}

export function agentSpiffeId(trustDomain: string, agentId: string): string {
  return `spiffe://${trustDomain}/agent/${agentId}`;
}

export function serviceSpiffeId(trustDomain: string, service: string): string {
  return `spiffe://${trustDomain}/svc/${service}`;
}

export function controlPlaneSpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/control-plane`;
}

/** Parses a SPIFFE ID of one of the mesh's forms; null for anything else. */
export function parseSpiffeId(uri: string): SpiffeId | null {
  const m = /^spiffe:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m || !TRUST_DOMAIN.test(m[1])) return null;
  const [trustDomain, path] = [m[1], m[2]];
  if (path === 'control-plane') return { kind: 'control-plane', trustDomain };
  const parts = path.split('/');
  if (parts.length !== 2 || !SEGMENT.test(parts[1])) return null;
  if (parts[0] === 'agent') return { kind: 'agent', trustDomain, name: parts[1] };
  if (parts[0] === 'svc') return { kind: 'svc', trustDomain, name: parts[1] };
  return null;
}

/** The URIs in a certificate's subjectAltName string as node prints it ("URI:spiffe://..., IP Address:..."). */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return subjectAltName
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}
