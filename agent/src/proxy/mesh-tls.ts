/**
 * The mesh hop's mutual TLS (docs/security.md, "The mesh hop"): agent to
 * agent is TLS 1.3 with a certificate of the mesh CA on both sides.
 *
 * Server (the inbound listener): requires a client certificate that chains
 * to the CA bundle, presents the agent's certificate, and issues session
 * tickets under keys kept across renewals (a renewal does not void them)
 * and replaced when the deny list changes (a ticket never outlives a
 * revocation; the listener also checks the deny list at every handshake,
 * inbound-mesh-tls.ts).
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
 * Per-service certificates (`services`, identity/service-certificates.ts):
 * the server presents the certificate of the service the caller names in
 * SNI when this agent holds it, else the agent's; the caller sends the
 * destination service as SNI, presents the certificate of the local service
 * it calls for (the source, from the app's proxy credential) when held, else
 * the agent's, and accepts from the peer either the destination service's
 * certificate held by that very agent (subject CN = the agent's SPIFFE ID)
 * or the agent's own (the fallback: the peer holds no certificate for the
 * service yet). docs/security.md, "Service certificates". When a source
 * service's certificate changes (issued, renewed, dropped), the ClientTls of
 * its pools changes generation, so pooled connections made with the old
 * identity are not reused (a caller whose certificate arrived after its first
 * call would otherwise stay the agent at the peer for as long as the
 * connection lives).
 */
import { randomBytes } from 'node:crypto';
import type { PeerCertificate, SecureContext, SecureContextOptions, TlsOptions } from 'node:tls';
import { createSecureContext } from 'node:tls';
import { agentSpiffeId, type Logger, serviceSpiffeId, uriSans } from '@weft/shared';
import type { ClientTls } from '../http1/client-connection.js';
import { PeerIdentityError } from '../http1/errors.js';
import type { IdentitySnapshot, RevocationSnapshot } from '../identity/agent-identity.js';
import type { ServiceCertificate, ServiceCertificateSource } from '../identity/service-certificates.js';

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
  /** The certificates of the services this agent hosts; absent: every handshake uses the agent's. */
  services?: ServiceCertificateSource;
}

/** Which pool a client TLS is for: the destination service (sent as SNI) and the local source service (its certificate presented). */
export interface MeshRoute {
  readonly service?: string;
  readonly source?: string;
}

const MIN_VERSION = 'TLSv1.3';

export class MeshTls {
  private clientContext: SecureContext;
  /** The last session ticket per peer (origin and expected agent id). */
  private readonly sessions = new Map<string, Buffer>();
  /** Session ticket keys of the server; new ones whenever the deny list changes, so no ticket made before outlives it. */
  private ticketKeys = randomBytes(48);
  private readonly serverWatchers = new Set<(options: SecureContextOptions) => void>();
  private readonly checks = new Map<string, (host: string, cert: PeerCertificate) => Error | undefined>();
  /** Secure contexts of service certificates, by role and service; rebuilt when the certificate (serial) or the agent's bundle changes. */
  private readonly serviceContexts = new Map<string, { serial: string; context: SecureContext }>();
  /** The generation of each source service's client identity (ClientTls.generation), bumped when its certificate changes. */
  private readonly generations = new Map<string, { value: number }>();
  private readonly unsubscribe: (() => void)[];

  constructor(private readonly opts: MeshTlsOptions) {
    this.clientContext = this.buildClientContext(opts.identity.current());
    this.unsubscribe = [
      opts.identity.onChange((s) => this.changed(s)),
      opts.identity.onRevocations(() => {
        // A session resumed later carries no certificate serial to check: full handshakes until new tickets arrive.
        this.sessions.clear();
        // And as the server: tickets issued before the change are void (every caller does a full handshake once).
        this.ticketKeys = randomBytes(48);
        for (const key of [...this.serviceContexts.keys()]) if (key.startsWith('server ')) this.serviceContexts.delete(key);
        const options = this.serverContextOptions(this.opts.identity.current());
        for (const w of this.serverWatchers) w(options);
      }),
      ...(opts.services === undefined
        ? []
        : [
            opts.services.onChange((service) => {
              this.serviceContexts.delete(`server ${service}`);
              this.serviceContexts.delete(`client ${service}`);
              const generation = this.generations.get(service);
              if (generation !== undefined) generation.value++;
              // Tickets resumed with the old certificate would keep presenting it.
              this.sessions.clear();
            }),
          ]),
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

  /** The secure context of a service certificate this agent holds, as server or as client; undefined when not held. */
  private serviceContext(role: 'server' | 'client', service: string): SecureContext | undefined {
    const cert: ServiceCertificate | undefined = this.opts.services?.current(service);
    if (cert === undefined) return undefined;
    const key = `${role} ${service}`;
    const cached = this.serviceContexts.get(key);
    if (cached?.serial === cert.serial) return cached.context;
    const ca = this.opts.identity.current().caBundlePem;
    try {
      const context = createSecureContext({
        key: cert.keyPem,
        cert: cert.certificatePem,
        ca,
        minVersion: MIN_VERSION,
        ...(role === 'server' && { ticketKeys: this.ticketKeys }),
      });
      this.serviceContexts.set(key, { serial: cert.serial, context });
      return context;
    } catch (err) {
      this.opts.logger.error('cannot build a TLS context from a service certificate; using the agent certificate', { service, err });
      return undefined;
    }
  }

  private changed(s: IdentitySnapshot): void {
    try {
      this.clientContext = this.buildClientContext(s);
      this.serviceContexts.clear();
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
    const services = this.opts.services;
    return {
      ...this.serverContextOptions(this.opts.identity.current()),
      requestCert: true,
      rejectUnauthorized: true,
      // h2: the peers' HTTP/2 sessions (session-pool.ts) on the same port; HTTP/1.1 callers send no ALPN.
      ALPNProtocols: ['h2', 'http/1.1'],
      // The destination service's certificate when the caller names a service held here; else (undefined) the agent's.
      ...(services && {
        SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, this.serviceContext('server', name)),
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

  /**
   * TLS for the connections of one pool to peer agent `agentId` at `origin`,
   * for calls to `route.service` (sent as SNI) made for local service
   * `route.source` (its certificate presented when held; else the agent's).
   */
  clientFor(origin: string, agentId: string, route: MeshRoute = {}): ClientTls {
    const key = `${agentId} ${origin} ${route.service ?? ''} ${route.source ?? ''}`;
    const checkServerIdentity = this.peerCheck(agentId, route.service);
    const source = route.source;
    let cell: { value: number } | undefined;
    if (source !== undefined) {
      cell = this.generations.get(source);
      if (cell === undefined) {
        cell = { value: 0 };
        this.generations.set(source, cell);
      }
    }
    return {
      get generation() {
        return cell?.value;
      },
      connectOptions: () => ({
        secureContext: (source !== undefined && this.serviceContext('client', source)) || this.clientContext,
        minVersion: MIN_VERSION,
        checkServerIdentity,
        session: this.sessions.get(key),
        ...(route.service !== undefined && { servername: route.service }),
      }),
      onSession: (session, generation) => {
        // A ticket of a handshake made under an earlier identity would resume as that identity.
        if (generation === cell?.value) this.sessions.set(key, session);
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
  forget(origin: string, agentId: string, route: MeshRoute = {}): void {
    this.sessions.delete(`${agentId} ${origin} ${route.service ?? ''} ${route.source ?? ''}`);
  }

  /**
   * The check that the peer is agent `agentId` (its chain already verified):
   * its own certificate, or, when `service` is given, that service's
   * certificate held by that agent (subject CN). One function per pair.
   */
  private peerCheck(agentId: string, service?: string): (host: string, cert: PeerCertificate) => Error | undefined {
    const checkKey = `${agentId} ${service ?? ''}`;
    let check = this.checks.get(checkKey);
    if (check === undefined) {
      check = (host, cert) => {
        const expected = agentSpiffeId(this.trustDomain, agentId);
        const names = uriSans(cert.subjectaltname);
        const asService = service !== undefined && names.includes(serviceSpiffeId(this.trustDomain, service));
        if (asService && cert.subject?.CN !== expected) {
          return new PeerIdentityError(
            `the peer at ${host} presents service ${service}'s certificate held by ${String(cert.subject?.CN ?? 'no agent')}, not by ${expected}`,
            expected,
            String(cert.subject?.CN ?? ''),
          );
        }
        if (!asService && !names.includes(expected)) {
          const presented = names.join(', ');
          const wanted =
            service === undefined ? expected : `${serviceSpiffeId(this.trustDomain, service)} (held by ${expected}) or ${expected}`;
          return new PeerIdentityError(
            `the peer at ${host} is not ${wanted}: its certificate names ${presented || 'no SPIFFE ID'}`,
            expected,
            presented,
          );
        }
        if (this.isRevoked(agentId, cert.serialNumber)) {
          return new PeerIdentityError(`the peer at ${host} is ${expected}, which is revoked (deny list)`, expected, expected);
        }
        return undefined;
      };
      this.checks.set(checkKey, check);
    }
    return check;
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    this.serverWatchers.clear();
    this.sessions.clear();
  }
}
