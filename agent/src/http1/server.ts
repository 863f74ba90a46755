/**
 * An HTTP/1.1 server on a plain net.Server, for the agent's proxy listeners
 * (the admin API stays on node:http). It exists for cost: node:http's
 * IncomingMessage/ServerResponse streams cost more per request than the
 * whole hop may (docs/data-plane.md has the figures). The protocol work is
 * in head-parser.ts (strict heads, smuggling rules), body-decoder.ts
 * (framing) and server-connection.ts (one connection's exchanges).
 *
 * Slow clients: one sweep every `checkIntervalMs` advances a coarse clock
 * and answers 408 to a connection whose head is not complete within
 * `headersTimeoutMs`, or whose whole request is not within
 * `requestTimeoutMs`; idle keep-alive connections close after
 * `keepAliveTimeoutMs`. No timer per request.
 *
 * TLS (`tls` set: the mesh's inbound listener): accepted sockets are
 * wrapped in TLS by tls-accept.ts and reach a ServerConnection after the
 * handshake, reading into a shared buffer as plaintext ones do. The
 * handshake must complete within `headersTimeoutMs`; a failed one is only
 * reported (`onTlsError`); a client that ends its side mid-handshake is a
 * failed one. Like the plaintext server it is half-open afterwards (a TCP
 * tunnel through the mesh hop forwards a half-close).
 * setSecureContext() swaps the key, certificate and CA for new handshakes;
 * established connections keep theirs.
 */
import type { X509Certificate } from 'node:crypto';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { type MessageError, RequestTimeoutError } from './errors.js';
import { type ConnectionOwner, type ConnectRequest, ConnState, ServerConnection } from './server-connection.js';
import type { Http1Request, Http1Response, TlsSessionInfo } from './server-message.js';
import { installSharedReadAccept } from './shared-read-accept.js';
import { TlsAccept } from './tls-accept.js';

export interface Http1ServerOptions {
  maxHeaderBytes: number;
  maxHeaderCount: number;
  /** Largest request body (default DEFAULT_MAX_BODY_BYTES): Content-Length beyond -> 413 before onRequest; a chunked body beyond is aborted. */
  maxBodyBytes?: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  checkIntervalMs: number;
  onRequest(req: Http1Request, res: Http1Response): void;
  /**
   * Writes the answer to a request refused before the handler saw it on
   * `socket` and ends it: `err.status` is the status to answer (malformed
   * head or body 400, body too large 413, head too large 431, too slow 408
   * as RequestTimeoutError, unsupported expectation 417), `err.message`
   * names the cause.
   */
  refuse(socket: Socket, err: MessageError): void;
  /** A CONNECT request: `connect.accept` turns the connection into a tunnel; else answer on the socket and end it. */
  onConnect(socket: Socket, target: string, connect: ConnectRequest): void;
  /**
   * Takes connections that open with the HTTP/2 preface (h2c, prior
   * knowledge) on the same port: the socket and the bytes read so far
   * (ConnectionOwner.handOver). Without it they are refused (400).
   * `sharedReads`: the socket reads into a shared buffer; the returned
   * function is given its later reads (views, valid until it returns).
   */
  onHttp2?(socket: Socket, received: Buffer, sharedReads: boolean): ((chunk: Buffer) => void) | undefined;
  /** accept() failed (e.g. EMFILE: out of file descriptors); the server keeps listening. */
  onAcceptError?(errno: number): void;
  /** Serve TLS with these options (key, cert, ca, requestCert, minVersion, SNICallback...); absent: plaintext. */
  tls?: TlsOptions;
  /** A TLS handshake failed (the connection is closed); `remoteAddress` of the client when known. */
  onTlsError?(err: Error, remoteAddress: string | undefined): void;
  /** A TLS connection completed its handshake (before its first request). */
  onTlsConnection?(tls: TlsSessionInfo): void;
  /** A further check of each TLS client's certificate at the handshake (TlsAcceptOptions.verifyPeer). */
  verifyTlsPeer?(cert: X509Certificate | undefined): Error | undefined;
}

/**
 * Default bound on a request body: large enough for ordinary uploads through
 * a mesh, small enough that one client cannot stream without end through a
 * listener. Callers with larger uploads raise it (ListenerLimits.maxRequestBodyBytes).
 */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** net.Server's options; accepted sockets built by shared-read-accept.ts get the same allowHalfOpen. */
const SERVER_OPTIONS = { allowHalfOpen: true, noDelay: true };

export class Http1Server implements ConnectionOwner {
  readonly maxHeaderBytes: number;
  readonly maxHeaderCount: number;
  readonly maxBodyBytes: number;
  now = Date.now();
  private readonly server: Server;
  private readonly connections = new Set<ServerConnection>();
  private readonly sweep: NodeJS.Timeout;
  /** Accepted sockets read into one shared buffer (shared-read-accept.ts, tls-accept.ts); false: node's Readable path. */
  sharedReads = false;
  readonly handOver: ((socket: Socket, received: Buffer, sharedReads: boolean) => ((chunk: Buffer) => void) | undefined) | undefined;
  /** The TLS accept path (a TLS server). */
  private readonly tlsAccept: TlsAccept | undefined;

  constructor(private readonly opts: Http1ServerOptions) {
    this.maxHeaderBytes = opts.maxHeaderBytes;
    this.maxHeaderCount = opts.maxHeaderCount;
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.handOver =
      opts.onHttp2 === undefined ? undefined : (socket, received, sharedReads) => opts.onHttp2?.(socket, received, sharedReads);
    if (opts.tls !== undefined) {
      // Half-open as the plaintext server (tunnels forward a half-close); tls-accept.ts ends a handshake the client gave up.
      this.tlsAccept = new TlsAccept({
        tls: opts.tls,
        handshakeTimeoutMs: opts.headersTimeoutMs,
        onSecure: (socket, sharedReads) => {
          this.sharedReads = sharedReads;
          const conn = this.accept(socket, sharedReads);
          return sharedReads ? conn.onRead : undefined;
        },
        onError: (err, remoteAddress) => opts.onTlsError?.(err, remoteAddress),
        verifyPeer: opts.verifyTlsPeer,
      });
      this.server = createServer(SERVER_OPTIONS, this.tlsAccept.accept);
    } else {
      // node's accept path: until listen() installed ours, or where ours is not available.
      this.server = createServer(SERVER_OPTIONS, (socket) => this.accept(socket, false));
    }
    this.sweep = setInterval(() => this.checkDeadlines(), opts.checkIntervalMs);
    this.sweep.unref();
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        if (this.opts.tls === undefined)
          this.sharedReads = installSharedReadAccept(
            this.server,
            SERVER_OPTIONS.allowHalfOpen,
            (socket) => this.accept(socket, true).onRead,
            this.onAcceptError,
          );
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  private accept(socket: Socket, sharedReads: boolean): ServerConnection {
    const conn = new ServerConnection(socket, this, sharedReads);
    this.connections.add(conn);
    if (conn.tls !== undefined) this.opts.onTlsConnection?.(conn.tls);
    return conn;
  }

  private readonly onAcceptError = (errno: number): void => {
    this.opts.onAcceptError?.(errno);
  };

  onRequest(req: Http1Request, res: Http1Response): void {
    this.opts.onRequest(req, res);
  }

  refuse(socket: Socket, err: MessageError): void {
    this.opts.refuse(socket, err);
  }

  onConnect(socket: Socket, target: string, connect: ConnectRequest): void {
    this.opts.onConnect(socket, target, connect);
  }

  connectionClosed(conn: ServerConnection): void {
    this.connections.delete(conn);
  }

  private checkDeadlines(): void {
    const now = Date.now();
    this.now = now;
    const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = this.opts;
    for (const conn of this.connections) {
      switch (conn.state) {
        case ConnState.Head:
          if (conn.idle) {
            if (now - conn.since > (conn.served > 0 ? keepAliveTimeoutMs : headersTimeoutMs)) conn.destroy();
          } else if (now - conn.since > headersTimeoutMs) {
            conn.refuse(
              new RequestTimeoutError(
                `request not received in time (head within ${headersTimeoutMs} ms, whole request within ${requestTimeoutMs} ms)`,
              ),
            );
          }
          break;
        case ConnState.Body:
          if (now - conn.requestStartedAt > requestTimeoutMs) {
            conn.refuse(
              new RequestTimeoutError(
                `request not received in time (head within ${headersTimeoutMs} ms, whole request within ${requestTimeoutMs} ms)`,
              ),
            );
          }
          break;
        default:
          break;
      }
    }
  }

  /** New handshakes use these key, certificate and CA (a TLS server only); open connections keep theirs. */
  setSecureContext(options: SecureContextOptions): void {
    if (this.tlsAccept === undefined) throw new Error('setSecureContext: not a TLS server');
    this.tlsAccept.setSecureContext(options);
  }

  /** Stops accepting connections; `done` runs once every connection is gone. */
  close(done: () => void): void {
    clearInterval(this.sweep);
    this.server.close(() => done());
  }

  /** Closes connections that are between requests. */
  closeIdleConnections(): void {
    for (const conn of this.connections) if (conn.idle) conn.destroy();
  }

  /** Cuts every connection. */
  closeAllConnections(): void {
    for (const conn of this.connections) conn.destroy();
  }
}
