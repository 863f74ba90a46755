/**
 * gRPC channel credentials for the agent's calls to the control plane: the
 * agent's current key and certificate as client certificate, its CA bundle
 * as the roots, and the server checked by its SPIFFE ID. They follow the
 * AgentIdentity: a renewed certificate is used for new connections while
 * the open connection (and the discovery stream on it) stays up.
 */
import * as grpc from '@grpc/grpc-js';
import { controlPlaneIdentityCheck } from '@weft/shared';
import type { AgentIdentity, IdentitySnapshot } from './agent-identity.js';

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

class IdentityCertificateProvider implements grpc.experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private snapshot: IdentitySnapshot;

  constructor(identity: AgentIdentity) {
    this.snapshot = identity.current();
    identity.onChange((s) => {
      this.snapshot = s;
      for (const l of this.caListeners) l(this.ca());
      for (const l of this.identityListeners) l(this.id());
    });
  }

  private ca() {
    return { caCertificate: Buffer.from(this.snapshot.caBundlePem) };
  }
  private id() {
    return { certificate: Buffer.from(this.snapshot.certificatePem), privateKey: Buffer.from(this.snapshot.keyPem) };
  }

  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    l(this.ca());
  }
  removeCaCertificateListener(l: CaListener): void {
    this.caListeners.delete(l);
  }
  addIdentityCertificateListener(l: IdentityListener): void {
    this.identityListeners.add(l);
    l(this.id());
  }
  removeIdentityCertificateListener(l: IdentityListener): void {
    this.identityListeners.delete(l);
  }
}

/** One credentials object per agent: Discovery, Registry and Trust clients built with it share one connection. */
export function controlPlaneCredentials(identity: AgentIdentity): grpc.ChannelCredentials {
  const provider = new IdentityCertificateProvider(identity);
  return grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, {
    checkServerIdentity: controlPlaneIdentityCheck(identity.current().trustDomain),
  });
}
