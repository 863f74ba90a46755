/**
 * The request and response objects of one exchange on an Http1Server
 * connection (server-connection.ts). They carry the parts of node:http's
 * IncomingMessage / ServerResponse the proxy uses, without streams:
 *   - Http1Request: the parsed head, and a body read through one reader
 *     (readBody) with pause/resume; bytes that arrive before there is a
 *     reader are queued (the socket pauses beyond 64 KiB of them).
 *   - Http1Response: writeHead / write / end / destroy with node's meaning
 *     (false from write() = wait for 'drain'); the head is held until the
 *     first body bytes so a small answer leaves in one write, and the body
 *     framing is chosen here: the sender's content-length, else chunked for
 *     HTTP/1.1, else close-delimited. A response never sends more body bytes
 *     than the content-length it declared, nor ends with fewer: either
 *     destroys the connection (the client sees a cut response, never a
 *     wrongly framed one).
 */

import type { X509Certificate } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { Framing, type HeaderMap, headerMapOf, isField, type RequestHead, type RequestHeaderMap } from './head-parser.js';
import { headerLine, type OutgoingHeaders } from './head-writer.js';
import type { SocketTunnel } from './socket-tunnel.js';

/** What the connection does for its current exchange (implemented by ServerConnection). */
export interface ExchangeHost {
  /** Writes bytes (a held head and the first body bytes together); false when the socket is full. */
  send(head: string | null, body: Buffer | string | null, bodyIsChunked: boolean, last: boolean): boolean;
  /** The response was written completely; `keepAlive` false closes the connection after it. */
  responseDone(keepAlive: boolean): void;
  /** Writes `head` (a 101) and hands the connection's bytes to a tunnel; the exchange is over. */
  upgrade(head: string): SocketTunnel;
  pauseReading(): void;
  resumeReading(): void;
  destroy(): void;
  onDrain(fn: () => void): void;
  offDrain(fn: () => void): void;
  readonly destroyed: boolean;
  /** The client's port (asks the OS: read it only when needed). */
  readonly remotePort: number | undefined;
  /** The connection's TLS session (a TLS listener), read once per connection; undefined for plaintext. */
  readonly tls: TlsSessionInfo | undefined;
}

/** What the codec knows of a TLS connection: the protocol and the peer's verified certificate. */
export interface TlsSessionInfo {
  /** "TLSv1.3". */
  readonly protocol: string;
  /** The session was resumed from a ticket (no certificate exchanged; the certificate is the one the session was made with). */
  readonly resumed: boolean;
  /** The client's certificate, verified against the server's CA when the server requires one; undefined when it sent none. */
  readonly peerCertificate: X509Certificate | undefined;
}

export interface BodyReader {
  onData(chunk: Buffer): void;
  onEnd(): void;
  /** The client went away before the whole body arrived. */
  onAbort(): void;
}

/** Body bytes queued before a reader exists, beyond which the socket is paused. */
const QUEUE_PAUSE_BYTES = 64 * 1024;

/** A declared content-length value as a number (-1 when it is not a plain decimal). */
function lengthOf(value: string | number | undefined): number {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : -1;
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : -1;
}

/** The content-length in header lines already written out (`name: value\r\n`), or -1. */
function lengthInLines(lines: string): number {
  const m = /(?:^|\n)content-length:[ \t]*(\d{1,15})[ \t]*\r/i.exec(lines);
  return m === null ? -1 : Number(m[1]);
}

const DISCARD: BodyReader = { onData() {}, onEnd() {}, onAbort() {} };

export class Http1Request {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: '1.0' | '1.1';
  /** Name, value, name, value... as received. */
  readonly rawHeaders: string[];
  /** The first Host field, or undefined. */
  readonly host: string | undefined;
  /** How many Host fields were sent. */
  readonly hostCount: number;
  /** The request carries a body (a non-zero content-length, or chunked). */
  readonly hasBody: boolean;
  /** The body's content-length, or -1 (none, or chunked). */
  readonly contentLength: number;
  /** The client asked to keep the connection open. */
  readonly keepAlive: boolean;
  /** The whole body arrived (at once true without a body). */
  complete: boolean;
  /** The connection died before the whole body arrived. */
  aborted = false;
  /** Body bytes received so far (decoded: no chunk framing), read or not. */
  bodyBytesReceived = 0;
  private map: RequestHeaderMap | undefined;
  private reader: BodyReader | null = null;
  private queue: Buffer[] | null = null;
  private queuedBytes = 0;
  private paused = false;

  constructor(
    head: RequestHead,
    readonly remoteAddress: string | undefined,
    private readonly conn: ExchangeHost,
  ) {
    this.method = head.method;
    this.url = head.url;
    this.httpVersion = head.httpVersion;
    this.rawHeaders = head.rawHeaders;
    this.host = head.host;
    this.hostCount = head.hostCount;
    this.hasBody = head.framing !== Framing.None;
    this.contentLength = head.contentLength;
    this.keepAlive = head.keepAlive;
    this.complete = !this.hasBody;
  }

  /** The client's port, read when asked (logs, tests that tell connections apart): not on the hot path. */
  get remotePort(): number | undefined {
    return this.conn.remotePort;
  }

  /**
   * The fields as a node-style map, built on first use: the proxy's own
   * path reads the few fields it needs with header() instead, and only
   * policy matching and hashing need the map.
   */
  get headers(): RequestHeaderMap {
    this.map ??= headerMapOf(this.rawHeaders) as RequestHeaderMap;
    return this.map;
  }

  /** The first value of field `name` (lowercase), without building the map. */
  header(name: string): string | undefined {
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (isField(raw[i]!, name)) return raw[i + 1];
    return undefined;
  }

  /** The connection's TLS session, or undefined for a plaintext connection. */
  get tls(): TlsSessionInfo | undefined {
    return this.conn.tls;
  }

  /** Starts delivering the body to `reader` (once per request): queued bytes first, synchronously. */
  readBody(reader: BodyReader): void {
    if (this.reader !== null) throw new Error('request body is already being read');
    this.reader = reader;
    const queue = this.queue;
    this.queue = null;
    if (queue !== null) for (const chunk of queue) reader.onData(chunk);
    if (this.queuedBytes >= QUEUE_PAUSE_BYTES && !this.paused) this.conn.resumeReading();
    this.queuedBytes = 0;
    if (this.complete) reader.onEnd();
    else if (this.aborted) reader.onAbort();
  }

  /** Drops the rest of the body (an early answer); the connection closes after the response. */
  discardBody(): void {
    if (this.reader === null) this.readBody(DISCARD);
    else this.reader = DISCARD;
    if (this.paused) this.resume();
  }

  isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    if (this.paused || this.complete) return;
    this.paused = true;
    this.conn.pauseReading();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.conn.resumeReading();
  }

  // --- the connection's side ---

  /** @internal */
  pushData(chunk: Buffer): void {
    this.bodyBytesReceived += chunk.length;
    const reader = this.reader;
    if (reader !== null) {
      reader.onData(chunk);
      return;
    }
    if (this.queue === null) this.queue = [chunk];
    else this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes >= QUEUE_PAUSE_BYTES && this.queuedBytes - chunk.length < QUEUE_PAUSE_BYTES) this.conn.pauseReading();
  }

  /** @internal */
  pushEnd(): void {
    this.complete = true;
    this.reader?.onEnd();
  }

  /** @internal */
  pushAbort(): void {
    if (this.complete || this.aborted) return;
    this.aborted = true;
    this.reader?.onAbort();
  }
}

export class Http1Response {
  statusCode = 200;
  headersSent = false;
  /** end() was called. */
  writableEnded = false;
  /** The whole response was handed to the socket. */
  writableFinished = false;
  /** Called once: true when the response was written completely, false when the connection died first. */
  onClose: ((finished: boolean) => void) | undefined;
  private extra: Map<string, string | number | readonly string[]> | null = null;
  /** The head, built by writeHead and not yet written (sent with the first body bytes). */
  private pendingHead: string | null = null;
  private chunked = false;
  private noBody = false;
  /** The declared content-length, or -1 (chunked, close-delimited, or no body). */
  private declared = -1;
  /** Body bytes handed to the connection so far, counted against a declared content-length. */
  private sent = 0;
  /** Body bytes handed to the connection so far (no head, no chunk framing). */
  bodyBytesSent = 0;
  private keepAlive: boolean;
  private closed = false;

  constructor(
    readonly req: Http1Request,
    private readonly host: ExchangeHost,
  ) {
    this.keepAlive = req.keepAlive;
  }

  get destroyed(): boolean {
    return this.host.destroyed;
  }

  /** A header for the next writeHead (node's setHeader; the names used are lowercase). */
  setHeader(name: string, value: string | number | readonly string[]): void {
    if (this.headersSent) throw new Error(`cannot set ${name}: the response head was already sent`);
    this.extra ??= new Map();
    this.extra.set(name.toLowerCase(), value);
  }

  getHeader(name: string): string | number | readonly string[] | undefined {
    return this.extra?.get(name.toLowerCase());
  }

  /** Builds the head from a header map (written with the first body bytes). */
  writeHead(statusCode: number, headers?: OutgoingHeaders | HeaderMap): this {
    if (this.headersSent) throw new Error('the response head was already sent');
    let lines = '';
    let hasLength = false;
    let declared = -1;
    let close = false;
    const add = (name: string, value: string | number | readonly string[]): void => {
      // Only the two names that matter here are compared (a length check first).
      if (name.length === 14 && name.toLowerCase() === 'content-length') {
        hasLength = true;
        declared = lengthOf(typeof value === 'object' ? value[0] : value);
      } else if (name.length === 10 && name.toLowerCase() === 'connection') {
        // The connection belongs to us: honour a close, write our own header below.
        if (String(value).toLowerCase().includes('close')) close = true;
        return;
      }
      if (typeof value === 'object') for (const v of value) lines += headerLine(name, v);
      else lines += headerLine(name, value);
    };
    if (headers !== undefined) {
      for (const name in headers) {
        const value = headers[name];
        if (value === undefined || this.extra?.has(name)) continue;
        add(name, value);
      }
    }
    if (this.extra !== null) for (const [name, value] of this.extra) add(name, value);
    this.finishHead(statusCode, lines, hasLength, close, declared);
    return this;
  }

  /** Builds the head from header lines already written out (setHeader values replace same-named lines). */
  writeHeadLines(statusCode: number, head: { lines: string; hasLength: boolean; length?: number }): this {
    if (this.extra === null) {
      const declared = head.hasLength
        ? head.length !== undefined && Number.isSafeInteger(head.length)
          ? head.length
          : lengthInLines(head.lines)
        : -1;
      this.finishHead(statusCode, head.lines, head.hasLength, false, declared);
      return this;
    }
    // Rare (a policy rule header, a draining close): rebuild the lines without the names set here.
    const kept: Record<string, string[]> = {};
    for (const line of head.lines.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).toLowerCase();
      const values = kept[name];
      if (values === undefined) kept[name] = [line.slice(colon + 2)];
      else values.push(line.slice(colon + 2));
    }
    return this.writeHead(statusCode, kept);
  }

  /** Adds framing and connection handling to the lines and holds the head for the first write. */
  private finishHead(statusCode: number, lines: string, hasLength: boolean, close: boolean, declared: number): void {
    const req = this.req;
    // A body still arriving when the answer starts: the connection closes after the answer (the rest is dropped).
    let keepAlive = !close && this.keepAlive && req.complete;
    let head = `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? 'Unknown'}\r\n${lines}`;
    const noBody = req.method === 'HEAD' || statusCode === 204 || statusCode === 304 || statusCode < 200;
    if (!hasLength && !noBody) {
      if (req.httpVersion === '1.1') {
        head += 'transfer-encoding: chunked\r\n';
        this.chunked = true;
      } else keepAlive = false;
    }
    if (!keepAlive) head += 'connection: close\r\n';
    else if (req.httpVersion === '1.0') head += 'connection: keep-alive\r\n';
    this.pendingHead = `${head}\r\n`;
    this.statusCode = statusCode;
    this.noBody = noBody;
    this.declared = noBody || !hasLength ? -1 : declared;
    this.keepAlive = keepAlive;
    this.headersSent = true;
  }

  /** Writes body bytes (the head first if it is still held); false when the socket is full (wait for 'drain'). */
  write(chunk: Buffer | string): boolean {
    if (this.writableEnded) throw new Error('write after end');
    if (!this.headersSent) this.writeHead(this.statusCode);
    const head = this.pendingHead;
    this.pendingHead = null;
    if (this.noBody || chunk.length === 0) return head === null ? true : this.host.send(head, null, false, false);
    if (!this.withinDeclared(chunk)) return false;
    this.bodyBytesSent += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    return this.host.send(head, chunk, this.chunked, false);
  }

  /**
   * Counts `chunk` against the declared content-length; past it the
   * connection is destroyed and false returned (nothing of it is sent).
   */
  private withinDeclared(chunk: Buffer | string): boolean {
    if (this.declared < 0) return true;
    this.sent += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (this.sent <= this.declared) return true;
    this.host.destroy();
    return false;
  }

  /** Ends the response (with optional last bytes). */
  end(chunk?: Buffer | string): void {
    if (this.writableEnded) return;
    if (!this.headersSent) this.writeHead(this.statusCode);
    this.writableEnded = true;
    if (this.host.destroyed) return;
    const head = this.pendingHead;
    this.pendingHead = null;
    const body = this.noBody || chunk === undefined || chunk.length === 0 ? null : chunk;
    if (body !== null && !this.withinDeclared(body)) return;
    if (this.declared >= 0 && this.sent < this.declared) {
      // Fewer bytes than declared: the client would wait for the rest (or read the next response as body).
      this.host.destroy();
      return;
    }
    if (body !== null) this.bodyBytesSent += typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    this.host.send(head, body, this.chunked, true);
    this.writableFinished = true;
    this.host.responseDone(this.keepAlive);
  }

  /**
   * Answers 101 Switching Protocols with `head` (header lines, Connection and
   * Upgrade included) plus any setHeader values except Connection, and turns
   * the connection into a tunnel. Only for a complete request without a body
   * (the caller checks that the client asked to upgrade).
   */
  switchProtocols(head: { lines: string }): SocketTunnel {
    if (this.headersSent) throw new Error('the response head was already sent');
    if (this.req.hasBody) throw new Error('cannot switch protocols after a request with a body');
    let lines = head.lines;
    if (this.extra !== null) for (const [name, value] of this.extra) if (name !== 'connection') lines += headerLine(name, String(value));
    const tunnel = this.host.upgrade(`HTTP/1.1 101 Switching Protocols\r\n${lines}\r\n`);
    this.statusCode = 101;
    this.headersSent = true;
    this.writableEnded = true;
    this.writableFinished = true;
    return tunnel;
  }

  /** Cuts the connection (the client sees a truncated response). */
  destroy(): void {
    this.host.destroy();
  }

  on(event: 'drain', fn: () => void): this {
    if (event === 'drain') this.host.onDrain(fn);
    return this;
  }

  off(event: 'drain', fn: () => void): this {
    if (event === 'drain') this.host.offDrain(fn);
    return this;
  }

  /** @internal The exchange is over (finished, or the connection died). */
  closeExchange(finished: boolean): void {
    if (this.closed) return;
    this.closed = true;
    const fn = this.onClose;
    this.onClose = undefined;
    fn?.(finished);
  }
}
