/**
 * How clients check the control plane's TLS certificate beyond the chain: by
 * its SPIFFE ID (spiffe://<td>/control-plane), not by host name, so an agent
 * may dial it by any address (NAT, load balancer, IP). grpc-js calls this as
 * `checkServerIdentity` after the chain verified against the CA bundle.
 */
import type { PeerCertificate } from 'node:tls';
import { parseSpiffeId, uriSans } from './spiffe-id.js';

const checks = new Map<string, (host: string, cert: PeerCertificate) => Error | undefined>();

/** One function per trust domain ('' = any), so channels built with it can share connections. */
export function controlPlaneIdentityCheck(trustDomain = ''): (host: string, cert: PeerCertificate) => Error | undefined {
  let check = checks.get(trustDomain);
  if (!check) {
    check = (host, cert) => {
      const ok = uriSans(cert.subjectaltname).some((u) => {
        const id = parseSpiffeId(u);
        return id?.kind === 'control-plane' && (trustDomain === '' || id.trustDomain === trustDomain);
      });
      return ok
        ? undefined
        : new Error(
            `${host} is not the Weft control plane${trustDomain ? ` of ${trustDomain}` : ''} (no spiffe://…/control-plane identity in its certificate)`,
          );
    };
    checks.set(trustDomain, check);
  }
  return check;
}

/**
 * Channel options for TLS to the control plane: the TLS server name sent is
 * this fixed name, not the dialled address (grpc-js would send an IP literal
 * as SNI, which TLS forbids). The name is not checked; the SPIFFE ID is.
 */
export const CONTROL_PLANE_TLS_OPTIONS = { 'grpc.ssl_target_name_override': 'control-plane.weft' } as const;
