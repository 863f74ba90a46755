/**
 * One keep-alive connection to an upstream, carrying one exchange at a time
 * for its Http1Pool (client-pool.ts). The request head is written at once
 * (with the body streamed after it: its content-length, else chunked), the
 * response head is parsed (1xx skipped), and the body is handed to the
 * exchange's handler as it arrives, pausing the socket while the handler is
 * full. The connection goes back to the pool when the response was complete,
 * the whole request was sent and both sides allow keep-alive; otherwise it
 * is closed.
 *
 * Failures are typed (errors.ts) and carry facts, not verdicts: a
 * connection that closes mid-exchange fails it with ConnectionClosedError
 * (reused? any response byte? how many request bytes written?), from which
 * the caller decides whether a re-send is safe. Any response that breaks
 * framing (RFC 9112 §6), including bytes after the end of a response on a
 * connection that would be reused, is an UpstreamProtocolError and the
 * connection is destroyed, never pooled.
 *
 * Two kinds of TLS. Origination (TlsOrigination, an external host): the
 * server's certificate is checked against node's CA store, and a failed
 * handshake is a ConnectFailedError. The mesh hop (ClientTls, a peer agent's
 * inbound listener): the options are read per connect, so a renewed
 * certificate or CA bundle applies to new connections while open ones carry
 * on; a session ticket the peer sends is handed to the pool so the next
 * connection resumes. A handshake that fails, or a peer that refuses our
 * certificate (a TLS alert, or a close, before one byte of a response or a
 * session ticket), is a TlsHandshakeError; a peer whose certificate names
 * someone else is the PeerIdentityError its checkServerIdentity returned (on
 * a resumed session, where node calls none, ClientTls.checkResumed decides).
 */
import { connect, isIP, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { BodyDecoder, chunkSizeLine, LAST_CHUNK } from './body-decoder.js';
import {
  ConnectFailedError,
  ConnectionClosedError,
  Http1Error,
  isTlsConnectFailure,
  RequestBodyError,
  RequestNotSendableError,
  ResponseHeadTooLargeError,
  TlsHandshakeError,
  UnexpectedUpgradeError,
  UpstreamProtocolError,
} from './errors.js';
import { type HeaderMap, hasToken, isField, parseResponseHead, type ResponseHead } from './head-parser.js';
import { headerLines, latin1 } from './head-writer.js';
import { SocketTunnel } from './socket-tunnel.js';

export interface ClientRequest {
  method: string;
  /** origin-form: path and query. */
  path: string;
  /** The header lines, already written out (the proxy's way), or... */
  lines?: { lines: string; hasLength: boolean };
  /** ...a header map (written out here). One of the two. */
  headers?: HeaderMap;
  /** Lines appended for this request only. */
  extraLines?: string;
  /** Streamed after the head; sent with the request's content-length header when it has one, else chunked. */
  body: Readable | null;
}

/** The receiving side of one exchange (the shape of undici's dispatch handler, with parsed headers). */
export interface ClientHandler {
  /** The request is on its way; `abort` cancels it (then onError follows, unless it already completed). */
  onConnect(abort: (err?: Error) => void): void;
  /** The final response head (raw fields; headerMapOf builds a map); false pauses the body until `resume`. */
  onHeaders(head: ResponseHead, resume: () => void): boolean;
  /** Body bytes; false pauses the socket until `resume`. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: Error): void;
  /**
   * The upstream switched protocols (101) on a request that asked to
   * upgrade: the connection left the pool and its bytes are the tunnel's
   * (bytes read after the 101 first). Without this method such a 101 fails
   * the exchange with UnexpectedUpgradeError, as an unasked one always does.
   */
  onUpgrade?(head: ResponseHead, tunnel: SocketTunnel): void;
}

/**
 * TLS the connection originates (an upstream outside the mesh): the server's
 * certificate is verified against node's CA store (the system's, plus
 * NODE_EXTRA_CA_CERTS), for `servername`, which is also the SNI.
 */
export interface TlsOrigination {
  servername: string;
}

/** Mutual TLS to a peer agent (the mesh hop); absent: plaintext. */
export interface ClientTls {
  /**
   * Options for one new connection, read at each connect: key, cert, ca,
   * checkServerIdentity, minVersion, servername, and `session` to resume.
   * Must be cheap (a prebuilt secure context, not PEM to parse).
   */
  connectOptions(): ConnectionOptions;
  /**
   * A session ticket the peer sent on a connection whose handshake (and
   * checkServerIdentity) passed: the next connect may resume with it.
   * `generation`: the connection's (read when it connected); a ticket of an
   * earlier generation is not kept (resuming it would present the identity
   * of that handshake).
   */
  onSession(session: Buffer, generation: number | undefined): void;
  /**
   * A connection resumed a session: node then runs no checkServerIdentity
   * and knows no peer certificate (the session proves the peer is the one
   * that issued the ticket, checked when it was). An error refuses the
   * connection (e.g. the peer was revoked since).
   */
  checkResumed?(): Error | undefined;
  /**
   * Changes when the identity new connections present changes (the local
   * source service's certificate issued, renewed or dropped). A pool does
   * not reuse a connection made under another generation: it would go on
   * presenting the identity the connection was made with (for as long as
   * the peer keeps it open) instead of the one the caller now has.
   * Absent: the identity never changes what a peer decides (the agent's).
   */
  readonly generation?: number;
}

/** What a connection tells its pool. */
export interface ConnectionPool {
  /** Once per exchange started, when it completed or failed. */
  exchangeEnded(): void;
  release(conn: ClientConnection): void;
  gone(conn: ClientConnection): void;
}

/** Bound on a response head (larger is an error). */
const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Every upstream socket reads into this one buffer (net's `onread`: no
 * Readable stream and no new Buffer per read). Reads are handled
 * synchronously; what must outlive the read (a partial head, body bytes
 * handed on) is copied out of it.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** A copy of a view of READ_BUFFER (small ones come from node's buffer pool). */
function copyOf(view: Buffer): Buffer {
  const out = Buffer.allocUnsafe(view.length);
  view.copy(out);
  return out;
}

/** True when the request's header lines or map carry an Upgrade field (asked only when a 101 arrives). */
function asksUpgrade(req: ClientRequest): boolean {
  if (req.headers !== undefined) {
    for (const name in req.headers) if (isField(name, 'upgrade') && req.headers[name] !== undefined) return true;
    return false;
  }
  const text = `\r\n${req.lines?.lines ?? ''}${req.extraLines ?? ''}`.toLowerCase();
  return text.includes('\r\nupgrade:') || hasToken(/\r\nconnection:([^\r]*)/.exec(text)?.[1], 'upgrade');
}

export class ClientConnection {
  readonly socket: Socket;
  /** At least one exchange completed on it (it is a reused connection now). */
  reused = false;
  /** Coarse time it went back to the pool. */
  idleSince = 0;
  /** How long it may stay idle: the pool's keep-alive timeout, shortened by the server's `Keep-Alive: timeout`. */
  idleLimitMs = Number.POSITIVE_INFINITY;
  private connected = false;
  /** ClientTls.generation when this connection was made (undefined without mesh TLS). */
  readonly tlsGeneration: number | undefined;
  /** The mesh TLS of a connection to a peer agent. */
  private readonly meshTls: ClientTls | undefined;
  /**
   * The peer sent a session ticket: a TLS 1.3 server does so once it has
   * accepted our certificate, so a new connection closed before one arrived
   * was refused at the handshake (some refusals come without an alert).
   */
  private ticketSeen = false;
  private connectTimer: NodeJS.Timeout | undefined;
  // The current exchange:
  private handler: ClientHandler | null = null;
  private method = 'GET';
  private head: Buffer | null = null;
  private searched = 0;
  private decoder: BodyDecoder | null = null;
  private gotBytes = false;
  private keepAlive = true;
  private requestSent = false;
  /** Bytes of the current request passed to socket.write. */
  private bytesWritten = 0;
  private request: ClientRequest | null = null;
  private paused = false;
  /** Body bytes that arrived with the head while the handler was paused. */
  private heldBody: Buffer | null = null;
  private body: Readable | null = null;
  private bodyChunked = false;
  /** Bumped per exchange: an abort handed to an earlier exchange does nothing to a later one. */
  private exchangeId = 0;
  /** After an upgrade: where the connection's bytes go (the connection is no longer the pool's). */
  private tunnel: SocketTunnel | null = null;

  constructor(
    host: string,
    port: number,
    connectTimeoutMs: number,
    private readonly pool: ConnectionPool,
    /** Host header for a request that has none (HTTP/1.1 requires one). */
    private readonly defaultHost: string,
    /** A lowercase field name whose first value each response head records as `noted`. */
    private readonly noteField?: string,
    tls?: TlsOrigination,
    meshTls?: ClientTls,
  ) {
    // A TLS connection counts as established after the handshake, so a refused certificate is a connect failure
    // (nothing reached the app).
    const onread = { buffer: READ_BUFFER, callback: this.onRead };
    let socket: Socket;
    if (meshTls !== undefined) {
      // A TLSSocket node connects itself takes `onread`: decrypted reads land in READ_BUFFER too.
      this.meshTls = meshTls;
      this.tlsGeneration = meshTls.generation;
      const secure = tlsConnect({ ...meshTls.connectOptions(), host, port, onread } as ConnectionOptions);
      secure.setNoDelay(true);
      secure.once('secureConnect', () => this.onSecureConnect(secure));
      secure.on('session', (session: Buffer) => {
        this.ticketSeen = true;
        if (this.connected) meshTls.onSession(session, this.tlsGeneration);
      });
      socket = secure;
    } else if (tls !== undefined) {
      // Origination sockets read through 'data' (their chunks take the same path).
      socket = tlsConnect({ host, port, servername: isIP(tls.servername) ? undefined : tls.servername, ALPNProtocols: ['http/1.1'] })
        .setNoDelay(true)
        .on('data', (chunk: Buffer) => this.onData(chunk));
      socket.once('secureConnect', this.onConnected);
    } else {
      socket = connect({ host, port, noDelay: true, onread });
      socket.once('connect', this.onConnected);
    }
    this.socket = socket;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = undefined;
      socket.destroy(new ConnectFailedError(`connect to ${host}:${port}: timeout after ${connectTimeoutMs} ms`, 'ETIMEDOUT'));
    }, connectTimeoutMs);
    socket.on('end', this.onEnd);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onClose);
  }

  private readonly onConnected = (): void => {
    this.connected = true;
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  };

  private onSecureConnect(socket: TLSSocket): void {
    if (socket.isSessionReused()) {
      const refused = this.meshTls?.checkResumed?.();
      if (refused !== undefined) {
        socket.destroy(refused);
        return;
      }
    }
    this.onConnected();
  }

  get busy(): boolean {
    return this.handler !== null;
  }

  get usable(): boolean {
    return !this.socket.destroyed && this.handler === null && !this.socket.readableEnded;
  }

  /** Starts an exchange (the connection must be free). */
  start(req: ClientRequest, handler: ClientHandler): void {
    const id = ++this.exchangeId;
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    let chunked = false;
    try {
      let hasLength: boolean;
      if (req.lines !== undefined) {
        head += req.lines.lines;
        hasLength = req.lines.hasLength;
      } else {
        const headers = req.headers ?? {};
        head += headerLines(headers);
        if (headers.host === undefined) head += `host: ${this.defaultHost}\r\n`;
        hasLength = headers['content-length'] !== undefined;
      }
      if (req.extraLines !== undefined) head += req.extraLines;
      if (req.body !== null && !hasLength) {
        head += 'transfer-encoding: chunked\r\n';
        chunked = true;
      }
    } catch (err) {
      // Nothing was written: the connection stays free.
      this.pool.exchangeEnded();
      this.pool.release(this);
      handler.onError(new RequestNotSendableError(`request head cannot be written: ${(err as Error).message}`, { cause: err }));
      return;
    }
    this.handler = handler;
    this.method = req.method;
    this.head = null;
    this.searched = 0;
    this.decoder = null;
    this.gotBytes = false;
    this.keepAlive = true;
    this.paused = false;
    this.heldBody = null;
    this.body = req.body;
    this.bodyChunked = chunked;
    this.requestSent = req.body === null;
    this.bytesWritten = 0;
    this.request = req;
    handler.onConnect((err) => this.abort(id, err));
    if (this.handler !== handler) return;
    if (this.socket.destroyed || !this.socket.writable) {
      // Found closed before a byte of this request was written.
      this.requestSent = false;
      this.failExchange(this.closedError('upstream connection was closed before the request was written'));
      return;
    }
    head += '\r\n';
    this.bytesWritten = head.length;
    this.socket.write(head, 'latin1');
    if (req.body !== null) this.streamBody(req.body);
  }

  private streamBody(body: Readable): void {
    body.on('data', this.onBodyData);
    body.once('end', this.onBodyEnd);
    body.once('error', this.onBodyError);
    this.socket.on('drain', this.onSocketDrain);
  }

  private detachBody(): void {
    const body = this.body;
    if (body === null) return;
    this.body = null;
    body.off('data', this.onBodyData);
    body.off('end', this.onBodyEnd);
    body.off('error', this.onBodyError);
    body.on('error', () => {});
    this.socket.off('drain', this.onSocketDrain);
  }

  private readonly onBodyData = (chunk: Buffer): void => {
    const socket = this.socket;
    let ok: boolean;
    if (this.bodyChunked) {
      if (chunk.length === 0) return;
      const sizeLine = chunkSizeLine(chunk.length);
      this.bytesWritten += sizeLine.length + chunk.length + 2;
      socket.cork();
      socket.write(sizeLine, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else {
      this.bytesWritten += chunk.length;
      ok = socket.write(chunk);
    }
    if (!ok) this.body?.pause();
  };

  private readonly onSocketDrain = (): void => {
    this.body?.resume();
  };

  private readonly onBodyEnd = (): void => {
    if (this.bodyChunked) {
      this.bytesWritten += LAST_CHUNK.length;
      this.socket.write(LAST_CHUNK, 'latin1');
    }
    this.requestSent = true;
    this.detachBody();
    // The response may have completed while the body was still being sent.
    if (this.handler === null && this.decoder === null) this.socket.destroy();
  };

  /** The body failed: the connection is destroyed so the upstream sees an aborted request, never a complete one. */
  private readonly onBodyError = (err: Error): void => {
    this.detachBody();
    this.failExchange(new RequestBodyError(`request body failed while it was being sent: ${err.message}`, { cause: err }));
  };

  private abort(id: number, err: Error | undefined): void {
    if (id !== this.exchangeId || this.handler === null) return;
    this.failExchange(err ?? new Error('request aborted'));
  }

  /** Ends the exchange with an error; the connection cannot be reused. */
  private failExchange(err: Error): void {
    const h = this.handler;
    this.handler = null;
    this.request = null;
    this.decoder = null;
    this.detachBody();
    this.socket.destroy();
    if (h !== null) {
      this.pool.exchangeEnded();
      h.onError(err);
    }
  }

  private readonly resume = (): void => {
    if (!this.paused) return;
    this.paused = false;
    const held = this.heldBody;
    if (held !== null) {
      this.heldBody = null;
      this.feedBody(held, 0);
      // The handler may have paused again on those bytes.
      if (this.paused) return;
    }
    this.socket.resume();
  };

  private readonly onRead = (nread: number, buf: Buffer): boolean => {
    this.onData(buf.subarray(0, nread));
    return true;
  };

  /** `chunk` is a view of READ_BUFFER, valid during this call only. */
  private onData(chunk: Buffer): void {
    if (this.tunnel !== null) {
      this.tunnel.push(copyOf(chunk));
      return;
    }
    if (this.handler === null) {
      // Bytes nobody asked for: the server is confused about framing; never reuse this connection.
      this.socket.destroy();
      return;
    }
    this.gotBytes = true;
    const decoder = this.decoder;
    if (decoder !== null) {
      this.feedBody(chunk, 0);
      return;
    }
    const buf = this.head === null ? chunk : Buffer.concat([this.head, chunk]);
    this.readHeads(buf);
  }

  /** Parses response heads in `buf` (skipping 1xx), then starts the body. */
  private readHeads(buf: Buffer): void {
    for (;;) {
      const end = buf.indexOf(HEAD_END, Math.max(0, this.searched - 3));
      if (end < 0 || end > MAX_RESPONSE_HEAD_BYTES) {
        if (end > MAX_RESPONSE_HEAD_BYTES || buf.length > MAX_RESPONSE_HEAD_BYTES) {
          this.failExchange(new ResponseHeadTooLargeError(`response head larger than ${MAX_RESPONSE_HEAD_BYTES} bytes`));
          return;
        }
        // Kept across reads: a copy when it is still a view of the read buffer.
        this.head = buf.buffer === READ_BUFFER.buffer ? copyOf(buf) : buf;
        this.searched = buf.length;
        return;
      }
      this.head = null;
      this.searched = 0;
      let parsed: ReturnType<typeof parseResponseHead>;
      try {
        parsed = parseResponseHead(latin1(buf, end), this.method, this.noteField);
      } catch (err) {
        this.failExchange(new UpstreamProtocolError(`invalid response head: ${(err as Error).message}`, { cause: err }));
        return;
      }
      const rest = end + 4;
      if (parsed.statusCode < 200) {
        if (parsed.statusCode === 101) {
          const asked = this.request !== null && asksUpgrade(this.request);
          if (asked && this.requestSent && this.handler?.onUpgrade !== undefined) {
            this.switchProtocols(parsed, rest < buf.length ? copyOf(buf.subarray(rest)) : null);
            return;
          }
          this.failExchange(
            new UnexpectedUpgradeError(
              `upstream switched protocols (101) ${asked ? 'on a request asking to upgrade, and this exchange takes no upgrade' : 'although the request did not ask to upgrade'}`,
              asked,
            ),
          );
          return;
        }
        if (rest === buf.length) return;
        buf = buf.subarray(rest);
        continue;
      }
      this.keepAlive = parsed.keepAlive;
      // A server that announces its idle timeout: close a second before it would.
      if (parsed.keepAliveTimeoutMs !== undefined) this.idleLimitMs = Math.max(0, parsed.keepAliveTimeoutMs - 1_000);
      this.decoder = new BodyDecoder(parsed.framing, parsed.contentLength, this.onBodyBytes);
      const handler = this.handler!;
      if (!handler.onHeaders(parsed, this.resume)) this.pause();
      if (this.handler !== handler) return;
      if (this.decoder.done) this.complete(rest < buf.length);
      else if (rest < buf.length) {
        // Body bytes read with the head wait for `resume` when the handler paused (a copy: buf is the shared read buffer).
        if (this.paused) this.heldBody = copyOf(buf.subarray(rest));
        else this.feedBody(buf, rest);
      }
      return;
    }
  }

  /** Hands the connection to a tunnel: it leaves the pool and the exchange ends with the handler's onUpgrade. */
  private switchProtocols(head: ResponseHead, rest: Buffer | null): void {
    const h = this.handler!;
    this.handler = null;
    this.request = null;
    this.decoder = null;
    this.tunnel = new SocketTunnel(this.socket, rest);
    this.pool.exchangeEnded();
    this.pool.gone(this);
    h.onUpgrade!(head, this.tunnel);
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  /** Body bytes, copied out of the read buffer (the handler may keep them, or a socket write may). */
  private readonly onBodyBytes = (chunk: Buffer): void => {
    const h = this.handler;
    if (h !== null && !h.onData(copyOf(chunk))) this.pause();
  };

  private feedBody(buf: Buffer, at: number): void {
    const decoder = this.decoder!;
    let end: number;
    try {
      end = decoder.feed(buf, at);
    } catch (err) {
      this.failExchange(new UpstreamProtocolError(`invalid response body: ${(err as Error).message}`, { cause: err }));
      return;
    }
    if (decoder.done && this.handler !== null) this.complete(end < buf.length);
  }

  /**
   * The response is complete; `extra` = bytes followed it in the same read.
   * Those are an upstream framing error (a body longer than declared, or an
   * unasked-for message), whatever the connection's keep-alive: the
   * exchange fails and the connection is destroyed.
   */
  private complete(extra: boolean): void {
    if (extra) {
      this.failExchange(new UpstreamProtocolError('upstream sent bytes after the end of the response (a body longer than declared?)'));
      return;
    }
    const h = this.handler!;
    this.request = null;
    this.handler = null;
    this.decoder = null;
    const reusable = this.keepAlive && !extra && this.requestSent && !this.socket.destroyed;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    if (reusable) {
      this.reused = true;
      this.pool.release(this);
    } else if (this.requestSent) this.socket.destroy();
    // else: the body is still being sent; onBodyEnd closes the connection after it.
    this.pool.exchangeEnded();
    h.onComplete();
  }

  private readonly onEnd = (): void => {
    if (this.tunnel !== null) {
      this.tunnel.pushEnd();
      return;
    }
    // An until-close body ends here.
    const decoder = this.decoder;
    if (this.handler !== null && decoder?.untilClose) {
      decoder.closed();
      this.keepAlive = false;
      this.requestSent = true;
      this.complete(false);
    }
  };

  private lastError: Error | undefined;

  /** The error for a connection that closed (or was never established) during the current exchange. */
  private closedError(message: string): Error {
    const cause = this.lastError;
    if (isTlsConnectFailure(cause)) return cause;
    if (this.meshTls !== undefined && this.connected && !this.reused && !this.gotBytes && !this.ticketSeen) {
      const code = (cause as { code?: unknown } | undefined)?.code;
      return new TlsHandshakeError(
        'the peer closed the connection at the end of the TLS handshake, before accepting it (our certificate refused there?)',
        typeof code === 'string' ? code : 'ECONNRESET',
        { cause },
      );
    }
    if (!this.connected && cause instanceof ConnectFailedError) return cause;
    if (!this.connected) {
      const code = (cause as { code?: unknown } | undefined)?.code;
      const syscallCode = typeof code === 'string' ? code : 'ECONNREFUSED';
      return new ConnectFailedError(`connect to upstream failed: ${cause?.message ?? syscallCode}`, syscallCode, { cause });
    }
    const facts = {
      reused: this.reused,
      responseStarted: this.gotBytes,
      requestBytesWritten: this.bytesWritten,
      requestFullyWritten: this.requestSent,
    };
    return new ConnectionClosedError(cause === undefined ? message : `${message}: ${cause.message}`, facts, { cause });
  }

  private readonly onSocketError = (err: Error): void => {
    this.lastError = this.meshTls === undefined ? err : this.tlsFailure(err);
  };

  /** On the mesh hop: a TLS error that means "the handshake failed" as a TlsHandshakeError; anything else as it is. */
  private tlsFailure(err: Error): Error {
    if (err instanceof Http1Error) return err;
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string') return err;
    if (!this.connected) {
      // Before the handshake completed (the request is still held by the TLS socket): chain verification, protocol,
      // an alert, or the peer closing mid-handshake. Errors of reaching the peer at all (refused, unreachable) stay.
      if (code === 'ECONNRESET' || code === 'EPIPE')
        return new TlsHandshakeError(`the peer closed the connection during the TLS handshake (${code})`, code, { cause: err });
      if (code.startsWith('E') && !code.startsWith('ERR_')) return err;
      return new TlsHandshakeError(`TLS handshake failed: ${err.message} (${code})`, code, { cause: err });
    }
    // TLS 1.3: the client finishes first, so the server's refusal of our certificate arrives as an alert afterwards.
    if (!this.reused && !this.gotBytes && /^ERR_SSL_.*ALERT/.test(code)) {
      const alert = /alert [a-z ]+/i.exec(err.message)?.[0] ?? 'alert';
      return new TlsHandshakeError(
        `the peer refused the TLS session after the handshake (TLS ${alert}: our certificate is missing, unknown or refused there)`,
        code,
        { cause: err },
      );
    }
    return err;
  }

  private readonly onClose = (hadError: boolean): void => {
    if (this.tunnel !== null) {
      this.tunnel.pushClose(hadError);
      return;
    }
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.detachBody();
    const h = this.handler;
    if (h !== null) {
      this.handler = null;
      const err = this.closedError('upstream closed the connection before the response was complete');
      this.request = null;
      this.pool.exchangeEnded();
      h.onError(err);
    }
    this.pool.gone(this);
  };
}
