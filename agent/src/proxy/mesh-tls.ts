/**
 * The mesh hop's mutual TLS (docs/security.md, "The mesh hop"): agent to
 * agent is TLS 1.3 with a certificate of the mesh CA on both sides.
 *
 * Server (the inbound listener): requires a client certificate that chains
 * to the CA bundle, presents the agent's certificate, and issues session
 * tickets under keys kept across renewals (a renewal does not void them).
 * Client (the outbound side's pools to peer agents only; local instances
 * stay plaintext on loopback): presents the agent's certificate, verifies
 * the peer's chain against the CA bundle, then that the peer's URI SAN is
 * `spiffe://<td>/agent/<the agent it meant to reach>` and that the peer is
 * not on the deny list (a PeerIdentityError otherwise). The last session
 * ticket per peer (origin and agent id, stored only from a connection whose
 * check passed) is kept, so a new connection resumes; a resumed connection
 * presents no certificate to the client, so it is checked against the deny
 * list by agent id only (and tickets are dropped when the deny list changes).
 *
 * Renewal and CA rotation (AgentIdentity.onChange): one new client secure
 * context for every later connect, and the server's context swapped with
 * setSecureContext; connections already open keep theirs. Session tickets
 * made under the old certificate are dropped.
 *
 * Seam for per-service certificates (not issued yet): `certificateFor(name)`
 * picks the server context by the SNI the caller sends (a service name);
 * unset, every handshake gets the agent's certificate and callers send no
 * service name. See docs/security.md for what remains.
 */
import { randomBytes } from 'node:crypto';
import type { PeerCertificate, SecureContext, SecureContextOptions, TlsOptions } from 'node:tls';
import { createSecureContext } from 'node:tls';
import { agentSpiffeId, type Logger, uriSans } from '@weft/shared';
import type { ClientTls } from '../http1/client-connection.js';
import { PeerIdentityError } from '../http1/errors.js';
import type { IdentitySnapshot, RevocationSnapshot } from '../identity/agent-identity.js';

/** What the mesh TLS reads of the agent's identity (AgentIdentity implements it). */
export interface MeshIdentity {
  current(): IdentitySnapshot;
  onChange(listener: (s: IdentitySnapshot) => void): () => void;
  isRevoked(agentId: string, serial?: string): boolean;
  onRevocations(listener: (r: RevocationSnapshot) => void): () => void;
}

export interface MeshTlsOptions {
  identity: MeshIdentity;
  logger: Logger;
  /**
   * The server context for a TLS server name (SNI) the caller sent: the seam
   * for per-service certificates. Undefined (or a name it does not know):
   * the agent's certificate.
   */
  certificateFor?: (serverName: string) => SecureContext | undefined;
}

const MIN_VERSION = 'TLSv1.3';

export class MeshTls {
  private clientContext: SecureContext;
  /** The last session ticket per peer (origin and expected agent id). */
  private readonly sessions = new Map<string, Buffer>();
  private readonly ticketKeys = randomBytes(48);
  private readonly serverWatchers = new Set<(options: SecureContextOptions) => void>();
  private readonly checks = new Map<string, (host: string, cert: PeerCertificate) => Error | undefined>();
  private readonly unsubscribe: (() => void)[];

  constructor(private readonly opts: MeshTlsOptions) {
    this.clientContext = this.buildClientContext(opts.identity.current());
    this.unsubscribe = [
      opts.identity.onChange((s) => this.changed(s)),
      opts.identity.onRevocations(() => {
        // A session resumed later carries no certificate serial to check: full handshakes until new tickets arrive.
        this.sessions.clear();
      }),
    ];
  }

  get trustDomain(): string {
    return this.opts.identity.current().trustDomain;
  }

  private buildClientContext(s: IdentitySnapshot): SecureContext {
    return createSecureContext({ key: s.keyPem, cert: s.certificatePem, ca: s.caBundlePem, minVersion: MIN_VERSION });
  }

  private serverContextOptions(s: IdentitySnapshot): SecureContextOptions {
    return { key: s.keyPem, cert: s.certificatePem, ca: s.caBundlePem, minVersion: MIN_VERSION, ticketKeys: this.ticketKeys };
  }

  private changed(s: IdentitySnapshot): void {
    try {
      this.clientContext = this.buildClientContext(s);
      this.sessions.clear();
      const options = this.serverContextOptions(s);
      for (const w of this.serverWatchers) w(options);
      this.opts.logger.info('mesh TLS uses the new certificate for new connections', { serial: s.serial, notAfterMs: s.notAfterMs });
    } catch (err) {
      // A snapshot node cannot load: keep the previous contexts (they still work until the old certificate expires).
      this.opts.logger.error('cannot build the mesh TLS context from the new certificate', { err });
    }
  }

  /** Options of the inbound listener's TLS server (TLS 1.3 only, a client certificate of the mesh CA required). */
  serverOptions(): TlsOptions {
    const certificateFor = this.opts.certificateFor;
    return {
      ...this.serverContextOptions(this.opts.identity.current()),
      requestCert: true,
      rejectUnauthorized: true,
      // h2: the peers' HTTP/2 sessions (session-pool.ts) on the same port; HTTP/1.1 callers send no ALPN.
      ALPNProtocols: ['h2', 'http/1.1'],
      ...(certificateFor && {
        SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, certificateFor(name)),
      }),
    };
  }

  /** Calls `apply` with the server's new context options on each renewal / CA change; returns the unsubscribe function. */
  watchServerContext(apply: (options: SecureContextOptions) => void): () => void {
    this.serverWatchers.add(apply);
    return () => this.serverWatchers.delete(apply);
  }

  isRevoked(agentId: string, serial?: string): boolean {
    return this.opts.identity.isRevoked(agentId, serial);
  }

  /** TLS for the connections of one pool to peer agent `agentId` at `origin`. */
  clientFor(origin: string, agentId: string): ClientTls {
    const key = `${agentId} ${origin}`;
    const checkServerIdentity = this.peerCheck(agentId);
    return {
      connectOptions: () => ({
        secureContext: this.clientContext,
        minVersion: MIN_VERSION,
        checkServerIdentity,
        session: this.sessions.get(key),
      }),
      onSession: (session) => {
        this.sessions.set(key, session);
      },
      // A resumed session was made with this peer (sessions are kept per agent id and origin, and only after its check passed).
      checkResumed: () =>
        this.isRevoked(agentId)
          ? new PeerIdentityError(
              `${agentSpiffeId(this.trustDomain, agentId)} is revoked (deny list)`,
              agentSpiffeId(this.trustDomain, agentId),
              '',
            )
          : undefined,
    };
  }

  /** Forgets the session ticket of a pool that was closed. */
  forget(origin: string, agentId: string): void {
    this.sessions.delete(`${agentId} ${origin}`);
  }

  /** The check that the peer is agent `agentId` (its chain already verified): one function per agent. */
  private peerCheck(agentId: string): (host: string, cert: PeerCertificate) => Error | undefined {
    let check = this.checks.get(agentId);
    if (check === undefined) {
      check = (host, cert) => {
        const expected = agentSpiffeId(this.trustDomain, agentId);
        const names = uriSans(cert.subjectaltname);
        if (!names.includes(expected)) {
          const presented = names.join(', ');
          return new PeerIdentityError(
            `the peer at ${host} is not ${expected}: its certificate names ${presented || 'no SPIFFE ID'}`,
            expected,
            presented,
          );
        }
        if (this.isRevoked(agentId, cert.serialNumber)) {
          return new PeerIdentityError(`the peer at ${host} is ${expected}, which is revoked (deny list)`, expected, expected);
        }
        return undefined;
      };
      this.checks.set(agentId, check);
    }
    return check;
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    this.serverWatchers.clear();
    this.sessions.clear();
  }
}
