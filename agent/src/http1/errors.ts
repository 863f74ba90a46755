/**
 * Failures the codec itself names, one class each, matched with `instanceof`
 * (undici's lib/core/errors.js is the model), each with a stable `code`.
 * Written in the shape of main's http1/errors.ts (Http1Error base, `H1_`
 * codes): when the branches meet, the TLS classes below join that file.
 *
 * The codec reports facts, never mesh decisions: which mesh code a caller
 * sees is decided by the proxy (a TLS failure before a response is a
 * connect failure there: the peer's app never saw the request).
 */

/** The base of every codec error. */
export abstract class Http1Error extends Error {
  abstract readonly code: string;
  override get name(): string {
    return this.constructor.name;
  }
}

// --- TLS to an upstream (the mesh hop) ---

/**
 * The TLS handshake failed: the peer's chain does not verify against the
 * trusted CA (self-signed, another CA, expired), the connection closed
 * during the handshake, or the peer refused ours (a TLS alert, or a close,
 * before it sent a session ticket or a byte of a response). The request
 * never reached the peer's app.
 */
export class TlsHandshakeError extends Http1Error {
  readonly code = 'H1_TLS_HANDSHAKE';
  /** node's / OpenSSL's code for the failure (SELF_SIGNED_CERT_IN_CHAIN, ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED, ECONNRESET...). */
  readonly tlsCode: string;
  constructor(message: string, tlsCode: string, options?: { cause?: unknown }) {
    super(message, options);
    this.tlsCode = tlsCode;
  }
}

/**
 * The TLS peer proved it holds a certificate of the trusted CA, but not the
 * identity the caller meant to reach (its checkServerIdentity said no), or
 * the caller refuses it (revoked). Raised before a byte of the request left.
 */
export class PeerIdentityError extends Http1Error {
  readonly code = 'H1_PEER_IDENTITY';
  /** What the caller expected (a SPIFFE ID). */
  readonly expected: string;
  /** What the peer's certificate names ('' when nothing usable). */
  readonly presented: string;
  constructor(message: string, expected: string, presented: string) {
    super(message);
    this.expected = expected;
    this.presented = presented;
  }
}

/** A TLS failure of a connection before its response: the request was never sent to an app. */
export function isTlsConnectFailure(err: unknown): err is TlsHandshakeError | PeerIdentityError {
  return err instanceof TlsHandshakeError || err instanceof PeerIdentityError;
}
