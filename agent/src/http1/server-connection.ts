/**
 * One client connection of an Http1Server: reads heads and bodies, hands
 * each request to the server's handler, writes its response, and keeps the
 * connection for the next request when both sides allow it. One exchange at
 * a time: pipelined requests wait (buffered, bounded) until the previous
 * response is complete, so responses leave in request order.
 *
 *   Head  -- head complete -->  Body (request body arriving)  -- body done --> Wait
 *   Head  -- head complete, no body --> Wait
 *   Wait/Body -- response done, keep-alive --> Head      otherwise --> closed
 *
 * Requests refused before the handler sees them (a bad head, a head too
 * large, a slow client) are answered by the server's `refuse` and the
 * connection is closed. Deadlines are checked by the server's sweep (one
 * timer for all connections, server.ts), against its coarse clock.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { BodyDecoder, chunkSizeLine, LAST_CHUNK } from './body-decoder.js';
import { ExpectationFailedError, HeadTooLargeError, MalformedBodyError, MalformedHeadError, MessageError } from './errors.js';
import { matchPreface, PrefaceMatch } from './h2-preface.js';
import { Framing, isField, parseRequestHead } from './head-parser.js';
import { latin1 } from './head-writer.js';
import { type ExchangeHost, Http1Request, Http1Response, type TlsSessionInfo } from './server-message.js';
import { SocketTunnel } from './socket-tunnel.js';

/**
 * A CONNECT request, handed to the server's owner with its socket. The owner
 * answers it: `accept` writes a 2xx head and turns the connection into a
 * tunnel (bytes the client sent after the request head come first), or it
 * writes a refusal on the socket and ends it.
 */
export interface ConnectRequest {
  /** The request target as sent (authority-form, `host:port`). */
  readonly target: string;
  /** Name, value, name, value... as received. */
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string | undefined;
  /** The connection's TLS session (a TLS listener); undefined for plaintext. */
  readonly tls: TlsSessionInfo | undefined;
  /** The first value of field `name` (lowercase). */
  header(name: string): string | undefined;
  /** Writes `head` (a complete 2xx response head, CRLF CRLF included) and hands out the connection's bytes. */
  accept(head: string): SocketTunnel;
}

export interface ConnectionOwner {
  readonly maxHeaderBytes: number;
  readonly maxHeaderCount: number;
  /** Largest request body: a larger Content-Length is refused (413), a chunked body erred when it passes it. */
  readonly maxBodyBytes: number;
  /** The server's coarse clock (ms), advanced by its sweep. */
  readonly now: number;
  onRequest(req: Http1Request, res: Http1Response): void;
  /** Answers a request refused before the handler saw it (`err.status`); the connection is closed after it. */
  refuse(socket: Socket, err: MessageError): void;
  /** A CONNECT request (the connection is the caller's to answer: `connect.accept`, or a refusal and close). */
  onConnect(socket: Socket, target: string, connect: ConnectRequest): void;
  connectionClosed(conn: ServerConnection): void;
  /**
   * Takes a connection whose first bytes are the HTTP/2 preface (h2c with
   * prior knowledge): `received` (a copy) is every byte read so far, the
   * socket reads nothing more for this codec. A socket that reads into the
   * shared buffer (`sharedReads`) keeps calling this connection's onRead:
   * the returned function is given those reads. Undefined: such a
   * connection is refused as a malformed HTTP/1.1 request.
   */
  readonly handOver?: ((socket: Socket, received: Buffer, sharedReads: boolean) => ((chunk: Buffer) => void) | undefined) | undefined;
}

/**
 *   Wait -- upgrade (101 written) --> Tunnel      Head -- CONNECT --> Connect -- accept --> Tunnel
 * In Tunnel the connection's bytes go to a SocketTunnel unparsed; Connect
 * buffers what the client sends until the owner answered.
 */
export enum ConnState {
  Head,
  Body,
  Wait,
  Closed,
  Connect,
  Tunnel,
}

/** Bytes of pipelined requests buffered while a response is running, beyond which reading pauses. */
const MAX_PIPELINED_BYTES = 64 * 1024;

const HEAD_END = Buffer.from('\r\n\r\n');

/** Body bytes copied behind the head for a single write; larger ones go out with it in a writev. */
const COPY_BODY_BYTES = 8 * 1024;

/** True when buf[from..] holds an LF not preceded by CR (the byte before `from` counts as preceding). */
export function hasBareLf(buf: Buffer, from: number): boolean {
  for (let lf = buf.indexOf(10, from); lf >= 0; lf = buf.indexOf(10, lf + 1)) if (lf === 0 || buf[lf - 1] !== 13) return true;
  return false;
}

export class ServerConnection implements ExchangeHost {
  state = ConnState.Head;
  /** When the current head started arriving (coarse clock), or when the connection went idle. */
  since: number;
  /** When the current request's head completed (for the whole-request deadline). */
  requestStartedAt = 0;
  /** Bytes received and not yet parsed (a partial head, or pipelined requests). */
  private pending: Buffer | null = null;
  /** How far `pending` was already searched for the end of the head. */
  private searched = 0;
  private req: Http1Request | null = null;
  private res: Http1Response | null = null;
  private decoder: BodyDecoder | null = null;
  private clientEnded = false;
  private readPaused = false;
  /** Exchanges completed on this connection. */
  served = 0;
  /** The client's address, read once (each read of socket.remoteAddress asks the OS). */
  private readonly remoteAddress: string | undefined;
  /** In Tunnel state: where the connection's bytes go. */
  private tunnel: SocketTunnel | null = null;
  /** Still reading the connection's first bytes to tell HTTP/2's preface from HTTP/1.1 (only when the owner takes HTTP/2). */
  private sniffing: boolean;
  /** The TLS session of a TLS socket (handshake already complete), read once. */
  readonly tls: TlsSessionInfo | undefined;

  /**
   * `sharedReads`: the socket reads into a buffer shared by every connection
   * (shared-read-accept.ts) and calls onRead; else it emits 'data'.
   */
  constructor(
    readonly socket: Socket,
    private readonly owner: ConnectionOwner,
    private readonly sharedReads = false,
  ) {
    this.since = owner.now;
    this.remoteAddress = socket.remoteAddress;
    this.sniffing = owner.handOver !== undefined;
    this.tls = (socket as Partial<TLSSocket>).encrypted === true ? tlsSessionOf(socket as TLSSocket) : undefined;
    socket.setNoDelay(true);
    if (!sharedReads) socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onSocketClose);
  }

  get destroyed(): boolean {
    return this.state === ConnState.Closed || this.socket.destroyed;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  /** Idle: between requests with nothing received (closed first when the server shuts down). */
  get idle(): boolean {
    return this.state === ConnState.Head && this.pending === null;
  }

  /** True while the current response has started (a refusal could not be written any more). */
  get responding(): boolean {
    return this.res?.headersSent === true;
  }

  /** After a hand-over (HTTP/2) of a socket with shared reads: where its reads go. */
  private handedOverReads: ((chunk: Buffer) => void) | undefined = undefined;

  /** The shared-read callback: `buf` is the shared buffer, valid until this returns. */
  readonly onRead = (nread: number, buf: Buffer): void => {
    if (this.handedOverReads !== undefined) {
      this.handedOverReads(buf.subarray(0, nread));
      return;
    }
    this.onData(buf.subarray(0, nread));
    // Bytes kept for later (a partial head, pipelined requests) must not stay a view of the shared buffer.
    const pending = this.pending;
    if (pending !== null && pending.buffer === buf.buffer) this.pending = Buffer.from(pending);
  };

  private readonly onData = (received: Buffer): void => {
    let chunk = received;
    const tunnel = this.tunnel;
    if (tunnel !== null) {
      tunnel.push(this.sharedReads ? Buffer.from(chunk) : chunk);
      return;
    }
    if (this.sniffing) {
      const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
      this.pending = null;
      const m = matchPreface(buf);
      if (m === PrefaceMatch.Partial) {
        // Kept like a partial head (onRead copies it out of the shared buffer); the head timeout applies.
        this.pending = buf;
        return;
      }
      this.sniffing = false;
      if (m === PrefaceMatch.Match) {
        this.handOver(buf);
        return;
      }
      chunk = buf;
    }
    try {
      if (this.state === ConnState.Body) {
        const at = this.decoder!.feed(chunk, 0);
        if (this.decoder!.done) this.bodyDone(chunk, at);
        return;
      }
      if (this.state === ConnState.Closed) return;
      this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
      if (this.state === ConnState.Wait || this.state === ConnState.Connect) {
        if (this.pending.length > MAX_PIPELINED_BYTES) this.pauseReading();
        return;
      }
      this.parse();
    } catch (err) {
      this.failInput(err);
    }
  };

  /** Parses buffered bytes in Head state: dispatches every complete request it can (one at a time). */
  private parse(): void {
    while (this.state === ConnState.Head && this.pending !== null) {
      let buf = this.pending;
      // RFC 9112 §2.2: empty lines before a request line are ignored.
      while (this.searched === 0 && buf.length >= 2 && buf[0] === 13 && buf[1] === 10) buf = buf.subarray(2);
      if (buf.length === 0) {
        this.pending = null;
        return;
      }
      this.pending = buf;
      if (this.searched === 0 && buf.length > 0) this.since = this.owner.now;
      const end = buf.indexOf(HEAD_END, Math.max(0, this.searched - 3));
      const max = this.owner.maxHeaderBytes;
      if (end < 0 || end > max) {
        if (end > max || buf.length > max) {
          this.refuse(new HeadTooLargeError(`request head larger than ${max} bytes`));
          return;
        }
        // A bare LF can never become part of a valid head: refused now, not when the head (never) ends.
        if (hasBareLf(buf, this.searched)) {
          this.refuse(new MalformedHeadError('malformed request head: a line ended by LF without CR'));
          return;
        }
        this.searched = buf.length;
        return;
      }
      this.searched = 0;
      const rest = end + 4;
      this.pending = rest === buf.length ? null : buf.subarray(rest);
      this.startRequest(latin1(buf, end));
      // startRequest may have moved the state (the handler can answer synchronously).
      if ((this.state as ConnState) === ConnState.Body && this.pending !== null) {
        const body = this.pending;
        this.pending = null;
        const at = this.decoder!.feed(body, 0);
        if (this.decoder!.done) this.bodyDone(body, at);
      }
    }
  }

  private startRequest(text: string): void {
    let head: ReturnType<typeof parseRequestHead>;
    try {
      head = parseRequestHead(text, { maxHeaderCount: this.owner.maxHeaderCount, maxBodyBytes: this.owner.maxBodyBytes });
    } catch (err) {
      if (err instanceof MessageError) {
        this.refuse(err);
        return;
      }
      throw err;
    }
    if (head.method === 'CONNECT') {
      this.state = ConnState.Connect;
      const raw = head.rawHeaders;
      const connect: ConnectRequest = {
        target: head.url,
        rawHeaders: raw,
        remoteAddress: this.remoteAddress,
        tls: this.tls,
        header(name: string): string | undefined {
          for (let i = 0; i < raw.length; i += 2) if (isField(raw[i]!, name)) return raw[i + 1];
          return undefined;
        },
        accept: (answer: string) => {
          if (this.state !== ConnState.Connect) throw new Error('CONNECT already answered');
          this.socket.write(answer, 'latin1');
          return this.startTunnel();
        },
      };
      this.owner.onConnect(this.socket, head.url, connect);
      return;
    }
    if (head.unsupportedExpect !== undefined) {
      this.refuse(
        new ExpectationFailedError(`expect: ${JSON.stringify(head.unsupportedExpect.slice(0, 80))} is not supported (only 100-continue)`),
      );
      return;
    }
    const req = new Http1Request(head, this.remoteAddress, this);
    const res = new Http1Response(req, this);
    this.req = req;
    this.res = res;
    // The whole-request deadline counts from the first byte of the head.
    this.requestStartedAt = this.since;
    if (head.framing === Framing.None) this.state = ConnState.Wait;
    else {
      this.state = ConnState.Body;
      // Body bytes are handed on (and may be held for a retry): never a view of the shared read buffer.
      this.decoder = new BodyDecoder(
        head.framing,
        head.contentLength,
        this.sharedReads ? (chunk) => req.pushData(Buffer.from(chunk)) : (chunk) => req.pushData(chunk),
        this.owner.maxBodyBytes,
      );
      if (head.expectContinue) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
    this.owner.onRequest(req, res);
  }

  /** The request body is complete; bytes after it (buf[at..]) belong to the next request. */
  private bodyDone(buf: Buffer, at: number): void {
    this.decoder = null;
    if (this.state === ConnState.Body) this.state = ConnState.Wait;
    if (at < buf.length) {
      const rest = buf.subarray(at);
      this.pending = this.pending === null ? rest : Buffer.concat([this.pending, rest]);
    }
    this.req?.pushEnd();
  }

  /** Gives the socket and the bytes read so far to the owner's HTTP/2 server; this connection is done. */
  private handOver(received: Buffer): void {
    const socket = this.socket;
    this.state = ConnState.Closed;
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('error', this.onError);
    socket.off('close', this.onSocketClose);
    this.owner.connectionClosed(this);
    // A copy: `received` may be a view of the shared read buffer.
    this.handedOverReads = this.owner.handOver?.(socket, Buffer.from(received), this.sharedReads);
  }

  /** Bad input: a refusal when nothing was answered yet, else the connection is cut. */
  private failInput(err: unknown): void {
    if (this.state === ConnState.Closed) return;
    if (err instanceof MessageError) {
      // The reader sees an abort (never an end): a body forwarded upstream is cut, not completed.
      this.req?.pushAbort();
      if (!this.responding) {
        this.refuse(err instanceof MalformedBodyError ? new MalformedBodyError(`malformed chunked request body (${err.message})`) : err);
        return;
      }
    }
    this.destroy();
  }

  /** Answers a request refused before (or instead of) the handler and closes the connection. */
  refuse(err: MessageError): void {
    if (this.state === ConnState.Closed) return;
    if (this.responding || this.socket.destroyed) {
      this.destroy();
      return;
    }
    this.state = ConnState.Closed;
    this.pending = null;
    this.req?.pushAbort();
    this.res?.closeExchange(false);
    this.owner.refuse(this.socket, err);
  }

  private readonly onEnd = (): void => {
    this.clientEnded = true;
    if (this.tunnel !== null) {
      this.tunnel.pushEnd();
      return;
    }
    // Before CONNECT is answered: the tunnel learns of the FIN when it starts.
    if (this.state === ConnState.Connect) return;
    // As node:http by default: a client that closes its side has gone away (a request in
    // progress is aborted, its upstream try cancelled); between requests we close too.
    if (this.state === ConnState.Head && this.pending === null) this.socket.end();
    else this.destroy();
  };

  private readonly onError = (): void => {
    // 'close' follows; resets and broken pipes are the client's business.
  };

  private readonly onSocketClose = (hadError: boolean): void => {
    this.tunnel?.pushClose(hadError);
    this.state = ConnState.Closed;
    this.pending = null;
    this.req?.pushAbort();
    this.res?.closeExchange(false);
    this.req = null;
    this.res = null;
    this.owner.connectionClosed(this);
  };

  // --- ExchangeHost: what the current request/response do with the connection ---

  send(head: string | null, body: Buffer | string | null, chunked: boolean, last: boolean): boolean {
    const socket = this.socket;
    if (socket.destroyed) return false;
    if (!chunked) {
      if (body === null) return head === null ? true : socket.write(head, 'latin1');
      if (head === null) return socket.write(body);
      if (typeof body !== 'string' && body.length <= COPY_BODY_BYTES) {
        // The usual small answer: head and body copied into one buffer, one plain write.
        const out = Buffer.allocUnsafe(head.length + body.length);
        (out as Buffer & { latin1Write(s: string, offset: number): number }).latin1Write(head, 0);
        body.copy(out, head.length);
        return socket.write(out);
      }
      // Head and the (first) body bytes in one writev.
      socket.cork();
      socket.write(head, 'latin1');
      const ok = socket.write(body);
      socket.uncork();
      return ok;
    }
    socket.cork();
    if (head !== null) socket.write(head, 'latin1');
    if (body !== null) {
      socket.write(chunkSizeLine(typeof body === 'string' ? Buffer.byteLength(body) : body.length), 'latin1');
      socket.write(body);
      socket.write(last ? `\r\n${LAST_CHUNK}` : '\r\n', 'latin1');
    } else if (last) socket.write(LAST_CHUNK, 'latin1');
    const ok = socket.writableLength < socket.writableHighWaterMark;
    socket.uncork();
    return ok;
  }

  /**
   * The handler switched protocols (Http1Response.switchProtocols): `head`
   * (the 101) is written, the exchange is over, and the connection's bytes,
   * buffered ones first, go to the returned tunnel.
   */
  upgrade(head: string): SocketTunnel {
    if (this.state !== ConnState.Wait) throw new Error('a connection switches protocols only after a complete request without a body');
    const res = this.res;
    this.req = null;
    this.res = null;
    this.served++;
    this.socket.write(head, 'latin1');
    const tunnel = this.startTunnel();
    res?.closeExchange(true);
    return tunnel;
  }

  private startTunnel(): SocketTunnel {
    const pending = this.pending;
    this.pending = null;
    this.state = ConnState.Tunnel;
    const tunnel = new SocketTunnel(this.socket, pending === null ? null : Buffer.from(pending));
    this.tunnel = tunnel;
    this.readPaused = false;
    if (this.clientEnded) tunnel.pushEnd();
    return tunnel;
  }

  responseDone(keepAlive: boolean): void {
    const req = this.req;
    const res = this.res;
    this.req = null;
    this.res = null;
    this.served++;
    res?.closeExchange(true);
    if (!keepAlive || this.clientEnded || req === null || !req.complete) {
      this.state = ConnState.Closed;
      this.pending = null;
      // Let the response flush, then close; a client still sending gets a reset at worst.
      this.socket.end();
      return;
    }
    this.state = ConnState.Head;
    this.since = this.owner.now;
    if (this.readPaused) this.resumeReading();
    // Pipelined requests wait for the next turn (no re-entry into the handler that just answered).
    if (this.pending !== null) process.nextTick(this.parseNext);
  }

  private readonly parseNext = (): void => {
    try {
      this.parse();
    } catch (err) {
      this.failInput(err);
    }
  };

  pauseReading(): void {
    if (this.readPaused) return;
    this.readPaused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.readPaused) return;
    this.readPaused = false;
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  onDrain(fn: () => void): void {
    this.socket.on('drain', fn);
  }

  offDrain(fn: () => void): void {
    this.socket.off('drain', fn);
  }
}

function tlsSessionOf(socket: TLSSocket): TlsSessionInfo {
  return {
    protocol: socket.getProtocol() ?? '',
    resumed: socket.isSessionReused(),
    peerCertificate: socket.getPeerX509Certificate(),
  };
}
