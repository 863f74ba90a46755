/**
 * Typed failures of the codec's client side (undici's core/errors.js shape:
 * one base class with a stable `code`, one subclass per failure). Socket
 * errors from node keep their own codes (ECONNREFUSED, ...); these are the
 * failures the codec itself names.
 */

export class Http1ClientError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The TLS peer proved it holds a certificate of the trusted CA, but not the
 * identity the caller meant to reach (checkServerIdentity said no), or the
 * caller refuses it (revoked). Raised before a byte of the request left.
 */
export class PeerIdentityError extends Http1ClientError {
  constructor(
    message: string,
    /** What the caller expected (e.g. a SPIFFE ID). */
    readonly expected: string,
    /** What the peer's certificate names ('' when nothing usable). */
    readonly presented: string,
  ) {
    super(message, 'WEFT_PEER_IDENTITY');
  }
}

/**
 * The TLS handshake failed: the peer's chain does not verify against the
 * trusted CA (self-signed, another CA, expired), or the peer refused ours (a
 * TLS alert before one byte of a response: our certificate is missing,
 * unknown or revoked there). The request never reached the peer's app.
 */
export class TlsHandshakeError extends Http1ClientError {
  constructor(
    message: string,
    /** node's / OpenSSL's code for the failure (SELF_SIGNED_CERT_IN_CHAIN, ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED, ...). */
    readonly tlsCode: string,
    options?: { cause?: unknown },
  ) {
    super(message, 'WEFT_TLS_HANDSHAKE', options);
  }
}

/** The codes of the codec's connect-time failures: the request was never sent to an app. */
export const CONNECT_FAILURE_CODES: ReadonlySet<string> = new Set(['WEFT_PEER_IDENTITY', 'WEFT_TLS_HANDSHAKE']);
