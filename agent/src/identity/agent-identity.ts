/**
 * The agent's identity as the rest of the agent (and the data plane's mTLS
 * hop) reads it: its current key, certificate and CA bundle, replaced whole
 * on renewal and on CA rotation, and the deny list the control plane sends.
 *
 * Contract:
 * - current() is an immutable snapshot; listeners get the new snapshot after
 *   it has been written to disk. A listener must not throw and must not block
 *   (build TLS contexts from the snapshot; do not call back into renewal).
 * - revocations() is what the control plane last sent on "trust/revocations";
 *   an agent id or a serial in it must not be accepted as a peer.
 */
import { X509Certificate } from 'node:crypto';
import { type Logger, parseSpiffeId, splitPemCertificates, uriSans, ValidationError } from '@weft/shared';

export interface IdentitySnapshot {
  readonly agentId: string;
  /** spiffe://<trust-domain>/agent/<agent-id> */
  readonly spiffeId: string;
  readonly trustDomain: string;
  /** PKCS#8 PEM of the agent's private key (made on this host). */
  readonly keyPem: string;
  /** The agent's leaf certificate, PEM (issued directly by a root in the bundle). */
  readonly certificatePem: string;
  /** Every root the mesh trusts, PEM (two during a CA rotation). */
  readonly caBundlePem: string;
  /** Upper-case hex. */
  readonly serial: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

export interface RevocationSnapshot {
  /** Version of the "trust/revocations" resource it came from ('' before the first). */
  readonly version: string;
  readonly agentIds: ReadonlySet<string>;
  readonly serials: ReadonlySet<string>;
}

type Listener<T> = (value: T) => void;

/** Builds a snapshot from PEM files; the certificate must carry an agent SPIFFE ID. */
export function snapshotOf(keyPem: string, certificatePem: string, caBundlePem: string, field: string): IdentitySnapshot {
  const cert = new X509Certificate(certificatePem);
  const id = uriSans(cert.subjectAltName)
    .map(parseSpiffeId)
    .find((i) => i?.kind === 'agent');
  if (id?.kind !== 'agent') throw new ValidationError(field, 'certificate carries no spiffe://<td>/agent/<id> identity');
  if (splitPemCertificates(caBundlePem).length === 0) throw new ValidationError(field, 'CA bundle holds no certificate');
  return Object.freeze({
    agentId: id.name,
    spiffeId: `spiffe://${id.trustDomain}/agent/${id.name}`,
    trustDomain: id.trustDomain,
    keyPem,
    certificatePem,
    caBundlePem,
    serial: cert.serialNumber,
    notBeforeMs: Date.parse(cert.validFrom),
    notAfterMs: Date.parse(cert.validTo),
  });
}

export class AgentIdentity {
  private snapshot: IdentitySnapshot;
  private revoked: RevocationSnapshot = Object.freeze({ version: '', agentIds: new Set<string>(), serials: new Set<string>() });
  private readonly changeListeners = new Set<Listener<IdentitySnapshot>>();
  private readonly revocationListeners = new Set<Listener<RevocationSnapshot>>();

  constructor(
    initial: IdentitySnapshot,
    private readonly log: Logger,
  ) {
    this.snapshot = initial;
  }

  current(): IdentitySnapshot {
    return this.snapshot;
  }

  /** Called with each new snapshot (renewal, new CA bundle); returns the unsubscribe function. */
  onChange(listener: Listener<IdentitySnapshot>): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  revocations(): RevocationSnapshot {
    return this.revoked;
  }

  /** Called with each new deny list; returns the unsubscribe function. */
  onRevocations(listener: Listener<RevocationSnapshot>): () => void {
    this.revocationListeners.add(listener);
    return () => this.revocationListeners.delete(listener);
  }

  /** True when the peer agent or its certificate serial is on the deny list. */
  isRevoked(agentId: string, serial?: string): boolean {
    return this.revoked.agentIds.has(agentId) || (serial !== undefined && this.revoked.serials.has(serial.toUpperCase()));
  }

  /** Installs a new snapshot (already on disk) and tells the listeners. */
  replace(next: IdentitySnapshot): void {
    this.snapshot = next;
    this.emit(this.changeListeners, next);
  }

  setRevocations(version: string, agentIds: readonly string[], serials: readonly string[]): void {
    this.revoked = Object.freeze({ version, agentIds: new Set(agentIds), serials: new Set(serials.map((s) => s.toUpperCase())) });
    this.emit(this.revocationListeners, this.revoked);
  }

  private emit<T>(listeners: Set<Listener<T>>, value: T): void {
    for (const l of listeners) {
      try {
        l(value);
      } catch (err) {
        this.log.error('identity listener failed', { err });
      }
    }
  }
}
