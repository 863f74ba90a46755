/**
 * First contact without a CA bundle: connect with TLS, take the chain the
 * control plane presents, and keep the root whose fingerprint equals the one
 * the token carries, provided the presented leaf verifies against it. Only
 * that root is trusted afterwards (the gRPC channel verifies the handshake
 * again against it), so a server that does not hold a certificate from the
 * pinned CA never sees the token.
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { fingerprintOfDer } from './fingerprint.js';

export class PinnedRootError extends Error {
  readonly code = 'ca_fingerprint_mismatch';
  constructor(message: string) {
    super(message);
    this.name = 'PinnedRootError';
  }
}

function chainOf(peer: tls.DetailedPeerCertificate): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let c: tls.DetailedPeerCertificate | undefined = peer;
  while (c?.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

/** Resolves with the PEM of the pinned root; rejects with PinnedRootError or a connection error. */
export function fetchPinnedRoot(host: string, port: number, caFingerprint: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    // Unverified on purpose: the chain is checked against the pinned fingerprint below.
    const socket = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS handshake with ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const peer = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate;
      socket.end();
      const chain = chainOf(peer);
      const root = chain.find((c) => fingerprintOfDer(c.raw) === caFingerprint);
      const leaf = chain[0];
      if (!root || !leaf) {
        reject(
          new PinnedRootError(
            `the control plane at ${host}:${port} does not present the CA of the token (fingerprint ${caFingerprint.slice(0, 16)}…); wrong address, or the CA was rotated: create a new token`,
          ),
        );
        return;
      }
      if (!leaf.verify(root.publicKey) && !chain.slice(1).some((c) => c !== root && c.verify(root.publicKey) && leaf.verify(c.publicKey))) {
        reject(new PinnedRootError(`the control plane's certificate at ${host}:${port} is not issued by the CA of the token`));
        return;
      }
      resolve(root.toString());
    });
  });
}
