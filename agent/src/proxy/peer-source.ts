/**
 * Who called the inbound listener, read from the connection's verified TLS
 * client certificate, never from a header: the SPIFFE ID in its URI SAN
 * (`spiffe://<td>/agent/<id>` for an agent calling for itself or for a local
 * app without a credential; `spiffe://<td>/svc/<name>` for a local app of the
 * calling agent that called with its proxy credential: the calling agent
 * then presented that service's certificate). The shape is shared/src/identity.ts's SourceIdentity
 * (main's access seam): this function is the inbound listener's `identify`.
 *
 * Read once per connection (the certificate object is the connection's, so
 * a WeakMap keyed by it costs one lookup per request).
 */
import type { X509Certificate } from 'node:crypto';
import { parseSpiffeId, uriSans } from '@weft/shared';
import type { TlsSessionInfo } from '../http1/server-message.js';

/** Who sent a request (the same fields as @weft/shared's SourceIdentity in main), plus the certificate serial. */
export interface PeerSource {
  /** The SPIFFE ID ("" when the peer's certificate carries none of the mesh's forms). */
  readonly spiffeId: string;
  readonly service?: string;
  readonly agentId?: string;
  /** True: the certificate chain was verified against the mesh CA by the handshake. */
  readonly authenticated: boolean;
  /** The certificate's serial, upper-case hex (for the deny list). */
  readonly serial: string;
  /**
   * The agent that holds the certificate: the agent itself, or for a service
   * certificate the agent its subject CN names (the CA writes it); checked
   * against the deny list. Undefined when the certificate names none.
   */
  readonly holder?: string;
}

const sources = new WeakMap<X509Certificate, PeerSource>();

/**
 * The source of a request on a mesh TLS connection (the listener requires
 * and verifies client certificates, so a certificate here is one of the mesh
 * CA's); undefined for a plaintext connection or one without a certificate.
 */
export function sourceFromPeerCertificate(tls: TlsSessionInfo | undefined): PeerSource | undefined {
  const cert = tls?.peerCertificate;
  if (cert === undefined) return undefined;
  let source = sources.get(cert);
  if (source === undefined) {
    source = sourceOf(cert);
    sources.set(cert, source);
  }
  return source;
}

function sourceOf(cert: X509Certificate): PeerSource {
  const serial = cert.serialNumber.toUpperCase();
  for (const uri of uriSans(cert.subjectAltName)) {
    const id = parseSpiffeId(uri);
    if (id?.kind === 'agent') return { spiffeId: uri, agentId: id.name, authenticated: true, serial, holder: id.name };
    if (id?.kind === 'svc') return { spiffeId: uri, service: id.name, authenticated: true, serial, holder: holderOf(cert, id.trustDomain) };
  }
  return { spiffeId: '', authenticated: false, serial };
}

/** The agent id in a service certificate's subject CN (spiffe://<td>/agent/<id>, same trust domain), or undefined. */
function holderOf(cert: X509Certificate, trustDomain: string): string | undefined {
  const cn = /^CN=(.+)$/m.exec(cert.subject)?.[1];
  const id = cn === undefined ? null : parseSpiffeId(cn);
  return id?.kind === 'agent' && id.trustDomain === trustDomain ? id.name : undefined;
}
