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
import { BodyDecoder, BodyError, chunkSizeLine, LAST_CHUNK } from './body-decoder.js';
import { Framing, HeadError, parseRequestHead } from './head-parser.js';
import { latin1 } from './head-writer.js';
import { type ExchangeHost, Http1Request, Http1Response, type TlsSessionInfo } from './server-message.js';

export interface ConnectionOwner {
  readonly maxHeaderBytes: number;
  readonly maxHeaderCount: number;
  /** The server's coarse clock (ms), advanced by its sweep. */
  readonly now: number;
  onRequest(req: Http1Request, res: Http1Response): void;
  /** Answers a request refused before the handler saw it; the connection is closed after it. */
  refuse(socket: Socket, status: number, message: string, method?: string): void;
  /** A CONNECT request (the connection is the caller's to answer and close). */
  onConnect(socket: Socket, target: string): void;
  connectionClosed(conn: ServerConnection): void;
}

export enum ConnState {
  Head,
  Body,
  Wait,
  Closed,
}

/** Bytes of pipelined requests buffered while a response is running, beyond which reading pauses. */
const MAX_PIPELINED_BYTES = 64 * 1024;

const HEAD_END = Buffer.from('\r\n\r\n');

/** Body bytes copied behind the head for a single write; larger ones go out with it in a writev. */
const COPY_BODY_BYTES = 8 * 1024;

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

  /** Idle: between requests with nothing received (closed first when the server shuts down). */
  get idle(): boolean {
    return this.state === ConnState.Head && this.pending === null;
  }

  /** True while the current response has started (a refusal could not be written any more). */
  get responding(): boolean {
    return this.res?.headersSent === true;
  }

  /** The shared-read callback: `buf` is the shared buffer, valid until this returns. */
  readonly onRead = (nread: number, buf: Buffer): void => {
    this.onData(buf.subarray(0, nread));
    // Bytes kept for later (a partial head, pipelined requests) must not stay a view of the shared buffer.
    const pending = this.pending;
    if (pending !== null && pending.buffer === buf.buffer) this.pending = Buffer.from(pending);
  };

  private readonly onData = (chunk: Buffer): void => {
    try {
      if (this.state === ConnState.Body) {
        const at = this.decoder!.feed(chunk, 0);
        if (this.decoder!.done) this.bodyDone(chunk, at);
        return;
      }
      if (this.state === ConnState.Closed) return;
      this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
      if (this.state === ConnState.Wait) {
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
          this.refuse(431, `request head larger than ${max} bytes`);
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
      head = parseRequestHead(text, { maxHeaderCount: this.owner.maxHeaderCount });
    } catch (err) {
      if (err instanceof HeadError) {
        this.refuse(err.status, err.message);
        return;
      }
      throw err;
    }
    if (head.method === 'CONNECT') {
      this.state = ConnState.Closed;
      this.owner.onConnect(this.socket, head.url);
      return;
    }
    if (head.unsupportedExpect !== undefined) {
      this.refuse(417, `expect: ${JSON.stringify(head.unsupportedExpect.slice(0, 80))} is not supported (only 100-continue)`, head.method);
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

  /** Bad input: a refusal when nothing was answered yet, else the connection is cut. */
  private failInput(err: unknown): void {
    if (this.state === ConnState.Closed) return;
    if (err instanceof BodyError) {
      this.req?.pushAbort();
      if (!this.responding) {
        this.refuse(400, `malformed chunked request body (${err.message})`);
        return;
      }
    }
    this.destroy();
  }

  /** Answers a request refused before (or instead of) the handler and closes the connection. */
  refuse(status: number, message: string, method?: string): void {
    if (this.state === ConnState.Closed) return;
    if (this.responding || this.socket.destroyed) {
      this.destroy();
      return;
    }
    this.state = ConnState.Closed;
    this.pending = null;
    this.req?.pushAbort();
    this.res?.closeExchange(false);
    this.owner.refuse(this.socket, status, message, method);
  }

  private readonly onEnd = (): void => {
    this.clientEnded = true;
    // As node:http by default: a client that closes its side has gone away (a request in
    // progress is aborted, its upstream try cancelled); between requests we close too.
    if (this.state === ConnState.Head && this.pending === null) this.socket.end();
    else this.destroy();
  };

  private readonly onError = (): void => {
    // 'close' follows; resets and broken pipes are the client's business.
  };

  private readonly onSocketClose = (): void => {
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
