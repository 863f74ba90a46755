/**
 * Every failure the HTTP/1.1 codec reports, one class each, matched with
 * `instanceof` (undici's lib/core/errors.js is the model). Each has a stable
 * `code` (`H1_...`) that never changes meaning once released.
 *
 * The codec reports facts, never mesh decisions: whether a failed exchange
 * may be sent again, which status a caller sees, which mesh code is logged
 * are decided by the proxy from the fields here.
 *
 * Three families:
 *   - MessageError: a received message the parser refuses (a request on the
 *     server side, a response head or body on the client side). `status` is
 *     the answer a server gives to a request refused this way.
 *   - the client's exchange failures (ConnectFailedError ... RequestBodyError).
 *     A response the parser refuses reaches the client's caller as an
 *     UpstreamProtocolError whose `cause` is the MessageError.
 *   - TLS failures of a client connection before its response
 *     (TlsHandshakeError, PeerIdentityError; isTlsConnectFailure). The
 *     request never reached the peer's app: the proxy treats them as connect
 *     failures.
 */

/** The base of every codec error. */
export abstract class Http1Error extends Error {
  abstract readonly code: string;
  override get name(): string {
    return this.constructor.name;
  }
}

// --- What the parser refuses in a received message ---

/** A received message the codec refuses; `status` is the HTTP status a server answers it with. */
export abstract class MessageError extends Http1Error {
  abstract readonly status: number;
}

/** A malformed head: start line, field syntax, or framing fields that could be read two ways (400). */
export class MalformedHeadError extends MessageError {
  readonly code: string = 'H1_MALFORMED_HEAD';
  readonly status = 400;
}

/** A head over the byte limit or with too many fields (431). */
export class HeadTooLargeError extends MessageError {
  readonly code: string = 'H1_HEAD_TOO_LARGE';
  readonly status = 431;
}

/** A malformed body framing: chunk size, chunk extension, chunk or trailer line ends (400). */
export class MalformedBodyError extends MessageError {
  readonly code: string = 'H1_MALFORMED_BODY';
  readonly status = 400;
}

/** A request body over the server's maxBodyBytes: by its Content-Length, or as chunks arrive (413). */
export class BodyTooLargeError extends MessageError {
  readonly code: string = 'H1_BODY_TOO_LARGE';
  readonly status = 413;
}

/** The request head or the whole request did not arrive within the server's deadlines (408). */
export class RequestTimeoutError extends MessageError {
  readonly code: string = 'H1_REQUEST_TIMEOUT';
  readonly status = 408;
}

/** An Expect field other than 100-continue (417). */
export class ExpectationFailedError extends MessageError {
  readonly code: string = 'H1_EXPECTATION_FAILED';
  readonly status = 417;
}

// --- The client's exchange failures ---

/** The connection to the upstream could not be established (refused, unreachable, or the connect timeout). */
export class ConnectFailedError extends Http1Error {
  readonly code = 'H1_CONNECT_FAILED';
  /** The socket error's code (`ECONNREFUSED`, `EHOSTUNREACH`...), or `ETIMEDOUT` for the connect timeout. */
  readonly syscallCode: string;
  constructor(message: string, syscallCode: string, options?: { cause?: unknown }) {
    super(message, options);
    this.syscallCode = syscallCode;
  }
}

/** What was known about the exchange when its connection closed. */
export interface ClosedFacts {
  /** An earlier exchange completed on this connection. */
  reused: boolean;
  /** At least one byte of this exchange's response arrived. */
  responseStarted: boolean;
  /** Bytes of this request passed to socket.write (0: nothing of it was written). */
  requestBytesWritten: number;
  /** The whole request (head and body) was passed to socket.write. */
  requestFullyWritten: boolean;
}

/**
 * The upstream connection closed or was reset before the response was
 * complete. `reused && !responseStarted` is the shape of the keep-alive race
 * (the server closed an idle connection as the request went out); whether
 * that allows a re-send is the caller's decision.
 */
export class ConnectionClosedError extends Http1Error implements ClosedFacts {
  readonly code = 'H1_CONNECTION_CLOSED';
  readonly reused: boolean;
  readonly responseStarted: boolean;
  readonly requestBytesWritten: number;
  readonly requestFullyWritten: boolean;
  constructor(message: string, facts: ClosedFacts, options?: { cause?: unknown }) {
    super(message, options);
    this.reused = facts.reused;
    this.responseStarted = facts.responseStarted;
    this.requestBytesWritten = facts.requestBytesWritten;
    this.requestFullyWritten = facts.requestFullyWritten;
  }
}

/**
 * The upstream's response broke HTTP/1.1: an invalid head, ambiguous or
 * malformed framing, or bytes after the end of a response on a connection
 * that would be reused. The connection is destroyed, never pooled. Before
 * the head was handed out the exchange fails with it; after, the body does.
 */
export class UpstreamProtocolError extends Http1Error {
  readonly code: string = 'H1_UPSTREAM_PROTOCOL';
}

/** A response head over the client's byte limit (a kind of protocol error). */
export class ResponseHeadTooLargeError extends UpstreamProtocolError {
  override readonly code: string = 'H1_RESPONSE_HEAD_TOO_LARGE';
}

/** The upstream answered 101 Switching Protocols; the client does not switch. */
export class UnexpectedUpgradeError extends Http1Error {
  readonly code = 'H1_UNEXPECTED_UPGRADE';
  /** The request carried an Upgrade field (else the 101 was never asked for). */
  readonly requestAskedUpgrade: boolean;
  constructor(message: string, requestAskedUpgrade: boolean) {
    super(message);
    this.requestAskedUpgrade = requestAskedUpgrade;
  }
}

/** The request cannot be written as given (a header value that would split the head, a bad name). Nothing was written. */
export class RequestNotSendableError extends Http1Error {
  readonly code = 'H1_REQUEST_NOT_SENDABLE';
}

/** The pool was closed before this request was dispatched. */
export class PoolClosedError extends Http1Error {
  readonly code = 'H1_POOL_CLOSED';
}

/**
 * The request body stream failed while it was being sent (`cause` is its
 * error). The upstream request was aborted by destroying the connection;
 * it was never terminated as if complete.
 */
export class RequestBodyError extends Http1Error {
  readonly code = 'H1_REQUEST_BODY_FAILED';
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
