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
 * reported (`onTlsError`). A TLS server is not half-open (a client that
 * closes its side mid-handshake would otherwise leave ours open; the mesh's
 * TLS clients never half-close a connection to wait for an answer).
 * setSecureContext() swaps the key, certificate and CA for new handshakes;
 * established connections keep theirs.
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { type ConnectionOwner, ConnState, ServerConnection } from './server-connection.js';
import type { Http1Request, Http1Response, TlsSessionInfo } from './server-message.js';
import { installSharedReadAccept } from './shared-read-accept.js';
import { TlsAccept } from './tls-accept.js';

export interface Http1ServerOptions {
  maxHeaderBytes: number;
  maxHeaderCount: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  checkIntervalMs: number;
  onRequest(req: Http1Request, res: Http1Response): void;
  /**
   * Writes the answer to a request refused before the handler saw it (bad
   * head 400, head too large 431, too slow 408, unsupported expectation 417)
   * on `socket` and ends it. `method` is known when the head was parsed.
   */
  refuse(socket: Socket, status: number, message: string, kind: 'head' | 'timeout'): void;
  /** A CONNECT request: answer on the socket and end it. */
  onConnect(socket: Socket, target: string): void;
  /** accept() failed (e.g. EMFILE: out of file descriptors); the server keeps listening. */
  onAcceptError?(errno: number): void;
  /** Serve TLS with these options (key, cert, ca, requestCert, minVersion, SNICallback...); absent: plaintext. */
  tls?: TlsOptions;
  /** A TLS handshake failed (the connection is closed); `remoteAddress` of the client when known. */
  onTlsError?(err: Error, remoteAddress: string | undefined): void;
  /** A TLS connection completed its handshake (before its first request). */
  onTlsConnection?(tls: TlsSessionInfo): void;
}

/** net.Server's options; accepted sockets built by shared-read-accept.ts get the same allowHalfOpen. */
const SERVER_OPTIONS = { allowHalfOpen: true, noDelay: true };

export class Http1Server implements ConnectionOwner {
  readonly maxHeaderBytes: number;
  readonly maxHeaderCount: number;
  now = Date.now();
  private readonly server: Server;
  private readonly connections = new Set<ServerConnection>();
  private readonly sweep: NodeJS.Timeout;
  /** Accepted sockets read into one shared buffer (shared-read-accept.ts, tls-accept.ts); false: node's Readable path. */
  sharedReads = false;
  /** The TLS accept path (a TLS server). */
  private readonly tlsAccept: TlsAccept | undefined;

  constructor(private readonly opts: Http1ServerOptions) {
    this.maxHeaderBytes = opts.maxHeaderBytes;
    this.maxHeaderCount = opts.maxHeaderCount;
    if (opts.tls !== undefined) {
      // Not half-open: a client that gives up mid-handshake (closing its side) must not leave the server's side open.
      this.tlsAccept = new TlsAccept({
        tls: opts.tls,
        handshakeTimeoutMs: opts.headersTimeoutMs,
        onSecure: (socket, sharedReads) => {
          this.sharedReads = sharedReads;
          const conn = this.accept(socket, sharedReads);
          return sharedReads ? conn.onRead : undefined;
        },
        onError: (err, remoteAddress) => opts.onTlsError?.(err, remoteAddress),
      });
      this.server = createServer({ noDelay: true, allowHalfOpen: false }, this.tlsAccept.accept);
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

  refuse(socket: Socket, status: number, message: string): void {
    this.opts.refuse(socket, status, message, status === 408 ? 'timeout' : 'head');
  }

  onConnect(socket: Socket, target: string): void {
    this.opts.onConnect(socket, target);
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
              408,
              `request not received in time (head within ${headersTimeoutMs} ms, whole request within ${requestTimeoutMs} ms)`,
            );
          }
          break;
        case ConnState.Body:
          if (now - conn.requestStartedAt > requestTimeoutMs) {
            conn.refuse(
              408,
              `request not received in time (head within ${headersTimeoutMs} ms, whole request within ${requestTimeoutMs} ms)`,
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
