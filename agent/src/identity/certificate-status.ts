/**
 * The certificates an agent holds, as operators read them (the admin API's
 * GET /v1/certificates, `weft status --agent`): its own and one per hosted
 * service, each with SPIFFE ID, serial, issuer and validity. Never the keys.
 * Times are ISO 8601 strings (UTC) next to their Unix-millisecond values.
 */
import { X509Certificate } from 'node:crypto';
import type { IdentitySnapshot } from './agent-identity.js';
import type { ServiceCertificateState } from './service-certificates.js';

export interface CertificateView {
  spiffeId: string;
  serial: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  notAfterMs: number;
}

export interface ServiceCertificateView {
  service: string;
  /** issued; pending: asked for, not (yet) issued (see lastError). */
  state: 'issued' | 'pending';
  certificate?: CertificateView;
  nextRenewal?: string;
  lastError?: string;
}

export interface CertificatesStatus {
  /** mtls; insecure: no identities at all (`--insecure`). */
  mode: 'mtls' | 'insecure';
  agent?: CertificateView;
  services: ServiceCertificateView[];
}

const iso = (ms: number) => new Date(ms).toISOString();

function view(c: { spiffeId: string; serial: string; issuer: string; notBeforeMs: number; notAfterMs: number }): CertificateView {
  return {
    spiffeId: c.spiffeId,
    serial: c.serial,
    issuer: c.issuer,
    notBefore: iso(c.notBeforeMs),
    notAfter: iso(c.notAfterMs),
    notAfterMs: c.notAfterMs,
  };
}

/** The status of `identity` (undefined under --insecure) and of the hosted services' certificates. */
export function certificatesStatus(
  identity: IdentitySnapshot | undefined,
  services: readonly ServiceCertificateState[],
): CertificatesStatus {
  if (identity === undefined) return { mode: 'insecure', services: [] };
  const issuer = new X509Certificate(identity.certificatePem).issuer.replaceAll('\n', ', ');
  return {
    mode: 'mtls',
    agent: view({ ...identity, serial: identity.serial.toUpperCase(), issuer }),
    services: services.map((s) => ({
      service: s.service,
      state: s.certificate === undefined ? 'pending' : 'issued',
      ...(s.certificate !== undefined ? { certificate: view(s.certificate) } : {}),
      ...(s.nextRenewalAtMs !== undefined ? { nextRenewal: iso(s.nextRenewalAtMs) } : {}),
      ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
    })),
  };
}
