/**
 * One HTTP/2 connection (RFC 9113) over a socket, either side: the agent's
 * own codec, as for HTTP/1.1 (agent/src/http1/), in place of node:http2.
 *
 * Why: node:http2 keeps each stream's native handle (and through it the
 * stream's whole object graph) alive until a full collection, so every call
 * on a proxy built on it was copied by V8's young-generation collector and
 * promoted: at one call in flight about 2-3 MB survived each scavenge, and
 * the scavenges took 9-16 ms (docs/protocols.md, "The HTTP/2 codec"). Here a
 * stream is a plain Duplex that nothing holds once it closed.
 *
 * What it does: the preface and SETTINGS exchange (with ACKs), HPACK
 * (hpack.ts), HEADERS with CONTINUATION, DATA with padding, flow control
 * both ways at stream and connection level, RST_STREAM, PING replies,
 * GOAWAY both ways, concurrency limits (the peer's and ours), and the
 * checks that make a message malformed (fields.ts) or the connection
 * unusable (PROTOCOL_ERROR, FRAME_SIZE_ERROR, FLOW_CONTROL_ERROR,
 * COMPRESSION_ERROR: GOAWAY and close). PRIORITY is read and ignored; server
 * push is never offered nor accepted.
 *
 * Writing: frames queue up and leave in one socket write per event-loop
 * turn (setImmediate), so a request's HEADERS and DATA, or a response's
 * head, body and trailers, share a write. DATA waits while the peer's
 * windows are closed or the socket is congested (write() returned false,
 * until 'drain'); its write callbacks wait with it, which is the stream's
 * backpressure.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import { contentLengthOf, fieldsOf, headersOf, MalformedError, type MessageKind } from './fields.js';
import {
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  errorName,
  Flag,
  FRAME_HEADER,
  FrameType,
  frame,
  frameHeader,
  goawayFrame,
  H2Error,
  headersFrames,
  MAX_STREAM_ID,
  MAX_WINDOW,
  PREFACE,
  rstStreamFrame,
  Setting,
  settingsFrame,
  windowUpdateFrame,
} from './frames.js';
import { type HeaderField, HpackDecoder, HpackEncoder, HpackError } from './hpack.js';
import { H2ClientStream, H2ServerStream, type H2Stream } from './stream.js';

export interface H2ConnectionSettings {
  /** Our per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE). */
  initialWindowSize: number;
  /** Our receive window for the whole connection. */
  connectionWindowSize: number;
  /** Streams the peer may open at once (server side). */
  maxConcurrentStreams: number;
  /** Largest frame payload we accept (SETTINGS_MAX_FRAME_SIZE). */
  maxFrameSize: number;
  /** Largest decoded header list we accept (SETTINGS_MAX_HEADER_LIST_SIZE). */
  maxHeaderListSize: number;
  /** Bytes a stream may hold in its writable buffer before write() says wait. */
  streamWriteBuffer: number;
}

export interface H2ConnectionOptions {
  role: 'server' | 'client';
  socket: Socket;
  settings: H2ConnectionSettings;
  /** Server: called for each request stream opened by the peer. */
  onStream?: (stream: H2ServerStream, headers: IncomingHttpHeaders) => void;
  /** Client: the :authority of requests that name none (host:port of the peer). */
  authority?: string;
  /**
   * The owner delivers reads by calling `receive` (a socket that reads into a shared buffer); otherwise the
   * connection listens for 'data' itself.
   */
  externalReads?: boolean;
}

/** The connection failed on a rule of the protocol: GOAWAY with `code`, and the connection ends. */
export class H2ConnectionError extends Error {
  override name = 'H2ConnectionError';
  constructor(
    message: string,
    readonly h2Code: number,
  ) {
    super(message);
  }
}

/** Requests reset by the client before an answer, allowed per window (rapid-reset guard). */
const RESETS_ALLOWED = 1000;
const RESET_WINDOW_MS = 10_000;
/** Bytes of our replies the peer may leave unread before it is cut off (PING / SETTINGS flood guard). */
const REPLY_BACKLOG_LIMIT = 4 * 1024 * 1024;

/** A header block gathered over CONTINUATION frames may be this many times SETTINGS_MAX_HEADER_LIST_SIZE before the connection is cut. */
const CONTINUATION_LIMIT_FACTOR = 2;

/**
 * Events: 'connect' (client: the socket connected), 'remoteSettings' (the peer's first SETTINGS), 'goaway'
 * (code, lastStreamId), 'error' (err), 'close'.
 */
export class H2Connection extends EventEmitter {
  readonly socket: Socket;
  private readonly role: 'server' | 'client';
  private readonly local: H2ConnectionSettings;
  private readonly onStream: H2ConnectionOptions['onStream'];
  private readonly decoder: HpackDecoder;
  private readonly encoder = new HpackEncoder();
  private readonly streams = new Map<number, H2Stream>();
  /** PINGs we sent, by their opaque data, waiting for the ACK. */
  private readonly pingsInFlight = new Map<string, (answered: boolean) => void>();
  private readonly authority: string | undefined;

  // What the peer allows us.
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private peerMaxConcurrent = Number.POSITIVE_INFINITY;
  private sendWindow = DEFAULT_WINDOW;
  private gotSettings = false;

  // What we allow the peer.
  private recvWindow = DEFAULT_WINDOW;
  private recvUnacked = 0;

  private prefaceNeeded: boolean;
  private pending: Buffer | null = null;
  /** A header block being gathered across CONTINUATION frames. */
  private headerBlock: { streamId: number; endStream: boolean; parts: Buffer[]; size: number } | null = null;
  private lastPeerStreamId = 0;
  private nextStreamId = 1;
  /** Client streams waiting for the peer's concurrency limit. */
  private readonly waiting: Array<{ stream: H2ClientStream; block: Buffer; endStream: boolean }> = [];

  private out: Buffer[] = [];
  /** Counts flushes: a DATA frame queued in the current generation has not been written yet. */
  private flushGeneration = 0;
  private outBytes = 0;
  private flushScheduled = false;
  private socketBlocked = false;
  /** Streams with DATA waiting for a window or the socket. */
  private readonly blocked = new Set<H2Stream>();

  private peerResets = 0;
  private resetWindowStart = 0;
  private goawaySent = false;
  /** The peer ended its side of the socket (a closed connection without GOAWAY). */
  private peerEnded = false;
  private goawayReceived = false;
  private goawayLastStreamId = MAX_STREAM_ID;
  private isDestroyed = false;
  private closeEmitted = false;

  constructor(o: H2ConnectionOptions) {
    super();
    this.socket = o.socket;
    this.role = o.role;
    this.local = o.settings;
    this.onStream = o.onStream;
    this.authority = o.authority;
    this.decoder = new HpackDecoder(4096);
    this.prefaceNeeded = o.role === 'server';
    this.nextStreamId = o.role === 'client' ? 1 : 2;
    const socket = o.socket;
    if (!o.externalReads) socket.on('data', (chunk: Buffer) => this.receive(chunk, false));
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    socket.on('end', this.onSocketEnd);
    socket.on('drain', this.onDrain);
    if (o.role === 'client') {
      socket.once('connect', () => this.emit('connect'));
      this.queue(PREFACE);
    }
    this.queue(
      settingsFrame([
        [Setting.HEADER_TABLE_SIZE, 4096],
        [Setting.ENABLE_PUSH, 0],
        [Setting.MAX_CONCURRENT_STREAMS, this.local.maxConcurrentStreams],
        [Setting.INITIAL_WINDOW_SIZE, this.local.initialWindowSize],
        [Setting.MAX_FRAME_SIZE, this.local.maxFrameSize],
        [Setting.MAX_HEADER_LIST_SIZE, this.local.maxHeaderListSize],
      ]),
    );
    if (this.local.connectionWindowSize > DEFAULT_WINDOW) {
      this.queue(windowUpdateFrame(0, this.local.connectionWindowSize - DEFAULT_WINDOW));
      this.recvWindow = this.local.connectionWindowSize;
    }
  }

  /** No new streams (GOAWAY sent or received) or gone. */
  get closed(): boolean {
    return this.goawaySent || this.goawayReceived || this.peerEnded || this.isDestroyed;
  }

  get destroyed(): boolean {
    return this.isDestroyed;
  }

  /** Open streams. */
  get streamCount(): number {
    // Streams waiting for the peer's concurrency limit are in `streams` already (request() adds every stream there);
    // adding `waiting` counted them twice.
    return this.streams.size;
  }

  /** Closes the connection after the socket is idle for `ms` (any traffic restarts the clock). */
  setTimeout(ms: number, onTimeout: () => void): void {
    this.socket.setTimeout(ms);
    this.socket.on('timeout', onTimeout);
  }

  /** Sends a PING; resolves true when the peer acknowledges it within `timeoutMs`, false otherwise (or if the connection ends). */
  ping(timeoutMs: number): Promise<boolean> {
    if (this.isDestroyed) return Promise.resolve(false);
    const opaque = randomBytes(8);
    const key = opaque.toString('hex');
    return new Promise<boolean>((resolve) => {
      const done = (answered: boolean): void => {
        clearTimeout(timer);
        this.pingsInFlight.delete(key);
        this.off('close', gone);
        resolve(answered);
      };
      const gone = (): void => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.pingsInFlight.set(key, done);
      this.once('close', gone);
      this.queue(frame(FrameType.PING, 0, 0, opaque));
    });
  }

  /** Opens a request stream (client side). Throws when the connection takes no new streams. */
  request(headers: OutgoingHttpHeaders, options?: { endStream?: boolean }): H2ClientStream {
    if (this.role !== 'client') throw new Error('request() on a server connection');
    if (this.closed) {
      const err = new Error('the HTTP/2 connection is closing (GOAWAY) or closed');
      (err as NodeJS.ErrnoException).code = 'ERR_HTTP2_GOAWAY_SESSION';
      throw err;
    }
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    // Out of stream ids: this is the last stream; the pool opens a new connection for the next.
    if (this.nextStreamId > MAX_STREAM_ID) this.goawaySent = true;
    const stream = new H2ClientStream(id, this, this.peerInitialWindow, this.local.initialWindowSize, this.local.streamWriteBuffer);
    // As node's client: GET, http and the peer's host:port unless the caller names them.
    const head =
      headers[':method'] === 'CONNECT'
        ? headers
        : { ':method': 'GET', ':scheme': 'http', ':authority': this.authority, ':path': '/', ...headers };
    const block = this.encoder.encode(fieldsOf(head));
    stream.headersSent = true;
    stream.sentHeaders = head;
    const endStream = options?.endStream === true;
    this.streams.set(id, stream);
    if (this.streams.size - this.waiting.length > this.peerMaxConcurrent) this.waiting.push({ stream, block, endStream });
    else this.queueHeaderBlock(id, block, endStream);
    if (endStream) {
      stream.onLocalEnd();
      stream.end();
    }
    return stream;
  }

  /** GOAWAY (no new streams); the connection ends once the open streams have. */
  close(): void {
    if (this.isDestroyed) return;
    if (!this.goawaySent) {
      this.goawaySent = true;
      this.queue(goawayFrame(this.lastPeerStreamId, H2Error.NO_ERROR));
    }
    this.endIfIdle();
  }

  /** Ends the connection now: open streams are cut. */
  destroy(err?: Error): void {
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    this.flush();
    for (const s of [...this.streams.values()]) s.onConnectionGone(err);
    this.streams.clear();
    this.waiting.length = 0;
    this.blocked.clear();
    this.socket.destroy();
    if (err !== undefined) this.emit('error', err);
    this.emitClose();
  }

  // ---- reading ----

  /** Bytes from the socket. `shared`: `chunk` is a view of a buffer reused after this returns (copy what is kept). */
  receive(chunk: Buffer, shared: boolean): void {
    if (this.isDestroyed) return;
    let rest = chunk;
    try {
      // A unit (the preface, a frame header, a frame) begun in an earlier read is completed with only the bytes it
      // lacks: the rest of the read is parsed where it lies (copying whole reads onto a partial frame doubled the
      // buffers allocated per read, and V8 answers external memory growth with full collections).
      while (this.pending !== null && rest.length > 0) {
        const p = this.pending;
        const want = this.prefaceNeeded
          ? PREFACE.length - p.length
          : p.length < FRAME_HEADER
            ? FRAME_HEADER - p.length
            : FRAME_HEADER + ((p[0]! << 16) | (p[1]! << 8) | p[2]!) - p.length;
        const take = Math.min(want, rest.length);
        const joined = Buffer.concat([p, rest.subarray(0, take)]);
        rest = rest.subarray(take);
        this.pending = null;
        this.parse(joined, true);
        if (this.isDestroyed) return;
      }
      if (rest.length > 0) this.parse(rest, !shared);
    } catch (err) {
      this.fail(err);
    }
  }

  /** Parses the preface (server) and every complete frame of `buf`; keeps what is left as `pending` (a copy unless `owned`). */
  private parse(buf: Buffer, owned: boolean): void {
    let pos = 0;
    if (this.prefaceNeeded) {
      if (buf.length < PREFACE.length) {
        if (!PREFACE.subarray(0, buf.length).equals(buf)) throw new H2ConnectionError('not the HTTP/2 preface', H2Error.PROTOCOL_ERROR);
        this.pending = owned ? buf : Buffer.from(buf);
        return;
      }
      if (!buf.subarray(0, PREFACE.length).equals(PREFACE)) throw new H2ConnectionError('not the HTTP/2 preface', H2Error.PROTOCOL_ERROR);
      this.prefaceNeeded = false;
      pos = PREFACE.length;
    }
    while (buf.length - pos >= FRAME_HEADER) {
      const length = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      if (length > this.local.maxFrameSize)
        throw new H2ConnectionError(`frame of ${length} bytes is over SETTINGS_MAX_FRAME_SIZE`, H2Error.FRAME_SIZE_ERROR);
      if (buf.length - pos < FRAME_HEADER + length) break;
      const type = buf[pos + 3]!;
      const flags = buf[pos + 4]!;
      const streamId = buf.readUInt32BE(pos + 5) & 0x7fffffff;
      const payload = buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + length);
      pos += FRAME_HEADER + length;
      this.onFrame(type, flags, streamId, payload, owned);
      if (this.isDestroyed) return;
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.pending = owned ? rest : Buffer.from(rest);
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer, owned: boolean): void {
    if (this.headerBlock !== null && type !== FrameType.CONTINUATION)
      throw new H2ConnectionError('expected CONTINUATION', H2Error.PROTOCOL_ERROR);
    switch (type) {
      case FrameType.DATA:
        this.onData(flags, streamId, payload, owned);
        return;
      case FrameType.HEADERS:
        this.onHeaders(flags, streamId, payload);
        return;
      case FrameType.CONTINUATION:
        this.onContinuation(flags, streamId, payload);
        return;
      case FrameType.PRIORITY:
        if (streamId === 0) throw new H2ConnectionError('PRIORITY on stream 0', H2Error.PROTOCOL_ERROR);
        return;
      case FrameType.RST_STREAM:
        this.onRstStream(streamId, payload);
        return;
      case FrameType.SETTINGS:
        this.onSettings(flags, streamId, payload);
        return;
      case FrameType.PUSH_PROMISE:
        throw new H2ConnectionError('PUSH_PROMISE (push is disabled)', H2Error.PROTOCOL_ERROR);
      case FrameType.PING:
        if (streamId !== 0) throw new H2ConnectionError('PING on a stream', H2Error.PROTOCOL_ERROR);
        if (payload.length !== 8) throw new H2ConnectionError('PING payload is not 8 bytes', H2Error.FRAME_SIZE_ERROR);
        if ((flags & Flag.ACK) === 0) {
          this.checkReplyBacklog();
          this.queue(frame(FrameType.PING, Flag.ACK, 0, payload));
        } else this.pingsInFlight.get(payload.toString('hex'))?.(true);
        return;
      case FrameType.GOAWAY:
        this.onGoaway(streamId, payload);
        return;
      case FrameType.WINDOW_UPDATE:
        this.onWindowUpdate(streamId, payload);
        return;
      default:
        // Unknown frame types are ignored (RFC 9113 §4.1).
        return;
    }
  }

  private onData(flags: number, streamId: number, payload: Buffer, owned: boolean): void {
    if (streamId === 0) throw new H2ConnectionError('DATA on stream 0', H2Error.PROTOCOL_ERROR);
    const frameLength = payload.length;
    let data = payload;
    if (flags & Flag.PADDED) data = unpad(payload);
    this.recvWindow -= frameLength;
    if (this.recvWindow < 0) throw new H2ConnectionError('DATA beyond the connection window', H2Error.FLOW_CONTROL_ERROR);
    // The connection window is credited as DATA arrives (per-stream windows are what hold a slow reader back).
    this.recvUnacked += frameLength;
    if (this.recvUnacked >= this.local.connectionWindowSize / 4) {
      this.queue(windowUpdateFrame(0, this.recvUnacked));
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
    const s = this.streams.get(streamId);
    if (s === undefined || s.remoteEnded) {
      this.unknownStream(streamId, 'DATA');
      return;
    }
    if (s instanceof H2ClientStream && !s.responded) {
      this.streamError(s, H2Error.PROTOCOL_ERROR);
      return;
    }
    s.recvWindow -= frameLength;
    if (s.recvWindow < 0) {
      this.streamError(s, H2Error.FLOW_CONTROL_ERROR);
      return;
    }
    s.receivedLength += data.length;
    if (s.expectedLength >= 0 && s.receivedLength > s.expectedLength) {
      this.streamError(s, H2Error.PROTOCOL_ERROR);
      return;
    }
    // Padding is credited at once; the data when it was handed on.
    s.recvUnacked += frameLength - data.length;
    if (data.length > 0) {
      const more = s.push(owned ? data : Buffer.from(data));
      s.recvUnacked += data.length;
      if (more) this.credit(s);
      else s.creditHeld = true;
    }
    if (flags & Flag.END_STREAM) {
      if (s.expectedLength >= 0 && s.receivedLength !== s.expectedLength) {
        this.streamError(s, H2Error.PROTOCOL_ERROR);
        return;
      }
      s.onRemoteEnd();
    }
  }

  /** Credits a stream's consumed data back to the peer once a quarter of its window was used. */
  credit(s: H2Stream): void {
    if (s.remoteEnded || s.rstCode !== undefined) return;
    if (s.recvUnacked >= this.local.initialWindowSize / 4) {
      this.queue(windowUpdateFrame(s.id, s.recvUnacked));
      s.recvWindow += s.recvUnacked;
      s.recvUnacked = 0;
    }
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new H2ConnectionError('HEADERS on stream 0', H2Error.PROTOCOL_ERROR);
    let block = payload;
    if (flags & Flag.PADDED) block = unpad(block);
    if (flags & Flag.PRIORITY) {
      if (block.length < 5) throw new H2ConnectionError('HEADERS priority fields missing', H2Error.FRAME_SIZE_ERROR);
      block = block.subarray(5);
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (flags & Flag.END_HEADERS) {
      this.onHeaderBlock(streamId, block, endStream);
      return;
    }
    this.headerBlock = { streamId, endStream, parts: [Buffer.from(block)], size: block.length };
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const hb = this.headerBlock;
    if (hb === null || hb.streamId !== streamId) throw new H2ConnectionError('CONTINUATION out of place', H2Error.PROTOCOL_ERROR);
    hb.parts.push(Buffer.from(payload));
    hb.size += payload.length;
    if (hb.size > this.local.maxHeaderListSize * CONTINUATION_LIMIT_FACTOR)
      throw new H2ConnectionError('header block too large', H2Error.ENHANCE_YOUR_CALM);
    if (flags & Flag.END_HEADERS) {
      this.headerBlock = null;
      this.onHeaderBlock(streamId, Buffer.concat(hb.parts), hb.endStream);
    }
  }

  private onHeaderBlock(streamId: number, block: Buffer, endStream: boolean): void {
    // Decoded before anything else: the table must follow the peer even for a stream that is refused.
    let fields: ReturnType<HpackDecoder['decode']> | undefined;
    let tooLarge = false;
    try {
      fields = this.decoder.decode(block, this.local.maxHeaderListSize);
    } catch (err) {
      if (!(err instanceof HpackError)) throw err;
      if (!(err as HpackError & { tooLarge?: boolean }).tooLarge)
        throw new H2ConnectionError(`HPACK: ${err.message}`, H2Error.COMPRESSION_ERROR);
      tooLarge = true;
    }
    const existing = this.streams.get(streamId);
    if (this.role === 'server' && existing === undefined) {
      this.onRequestHead(streamId, fields, tooLarge, endStream);
      return;
    }
    if (existing === undefined || existing.remoteEnded) {
      this.unknownStream(streamId, 'HEADERS');
      return;
    }
    if (tooLarge || fields === undefined) {
      this.streamError(existing, H2Error.PROTOCOL_ERROR);
      return;
    }
    if (existing instanceof H2ClientStream && !existing.responded) {
      const head = wellFormed(fields, 'response');
      if (head === undefined) {
        this.streamError(existing, H2Error.PROTOCOL_ERROR);
        return;
      }
      const status = Number(head[':status']);
      if (status >= 100 && status < 200) {
        // Informational: node reports them as 'headers'; the final head follows.
        if (endStream) {
          this.streamError(existing, H2Error.PROTOCOL_ERROR);
          return;
        }
        existing.emit('headers', head);
        return;
      }
      existing.responded = true;
      existing.expectedLength =
        status === 204 || status === 304 || existing.sentHeaders?.[':method'] === 'HEAD' ? -1 : contentLengthOf(head);
      existing.emit('response', head, endStream ? Flag.END_STREAM : 0);
      if (endStream) existing.onRemoteEnd();
      return;
    }
    // Trailers: they end the stream.
    if (!endStream) {
      this.streamError(existing, H2Error.PROTOCOL_ERROR);
      return;
    }
    const trailers = wellFormed(fields, 'trailers');
    if (trailers === undefined) {
      this.streamError(existing, H2Error.PROTOCOL_ERROR);
      return;
    }
    if (existing.expectedLength >= 0 && existing.receivedLength !== existing.expectedLength) {
      this.streamError(existing, H2Error.PROTOCOL_ERROR);
      return;
    }
    existing.emit('trailers', trailers, Flag.END_STREAM);
    existing.onRemoteEnd();
  }

  private onRequestHead(
    streamId: number,
    fields: ReturnType<HpackDecoder['decode']> | undefined,
    tooLarge: boolean,
    endStream: boolean,
  ): void {
    if (streamId % 2 === 0 || streamId <= this.lastPeerStreamId)
      throw new H2ConnectionError(`stream ${streamId} cannot be opened by the client now`, H2Error.PROTOCOL_ERROR);
    this.lastPeerStreamId = streamId;
    if (this.goawaySent) return;
    if (this.streams.size >= this.local.maxConcurrentStreams || tooLarge || fields === undefined) {
      this.queue(rstStreamFrame(streamId, tooLarge ? H2Error.PROTOCOL_ERROR : H2Error.REFUSED_STREAM));
      return;
    }
    const head = wellFormed(fields, 'request');
    if (head === undefined) {
      this.queue(rstStreamFrame(streamId, H2Error.PROTOCOL_ERROR));
      return;
    }
    const s = new H2ServerStream(streamId, this, this.peerInitialWindow, this.local.initialWindowSize, this.local.streamWriteBuffer);
    s.expectedLength = contentLengthOf(head);
    this.streams.set(streamId, s);
    if (endStream) {
      if (s.expectedLength > 0) {
        this.streams.delete(streamId);
        this.queue(rstStreamFrame(streamId, H2Error.PROTOCOL_ERROR));
        return;
      }
      s.endAfterHeaders = true;
      // The request is complete before the handler sees it (as node ends the readable side before 'stream'): a handler
      // that answers synchronously must find the remote side ended, or its end looked like "answered before the
      // request ended" and sent a spurious RST_STREAM NO_ERROR after every such response.
      s.onRemoteEnd();
    }
    this.onStream?.(s, head);
  }

  private onRstStream(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new H2ConnectionError('RST_STREAM on stream 0', H2Error.PROTOCOL_ERROR);
    if (payload.length !== 4) throw new H2ConnectionError('RST_STREAM payload is not 4 bytes', H2Error.FRAME_SIZE_ERROR);
    const s = this.streams.get(streamId);
    if (s === undefined) {
      if (this.isIdle(streamId)) throw new H2ConnectionError(`RST_STREAM on idle stream ${streamId}`, H2Error.PROTOCOL_ERROR);
      return;
    }
    if (this.role === 'server' && !s.headersSent) this.countPeerReset();
    s.onReset(payload.readUInt32BE(0));
    this.endIfIdle();
  }

  /**
   * Requests the peer opens and resets before they were answered cost the agent their routing and the upstream
   * try, and do not count against the concurrency limit once reset ("rapid reset", CVE-2023-44487): more than
   * RESETS_ALLOWED in RESET_WINDOW_MS ends the connection with ENHANCE_YOUR_CALM.
   */
  private countPeerReset(): void {
    const now = Date.now();
    if (now - this.resetWindowStart > RESET_WINDOW_MS) {
      this.resetWindowStart = now;
      this.peerResets = 0;
    }
    if (++this.peerResets > RESETS_ALLOWED)
      throw new H2ConnectionError(
        `more than ${RESETS_ALLOWED} requests reset by the client in ${RESET_WINDOW_MS / 1000} s`,
        H2Error.ENHANCE_YOUR_CALM,
      );
  }

  /** A peer that makes us answer (PING, SETTINGS, frames on closed streams) but does not read the answers is cut off. */
  private checkReplyBacklog(): void {
    if (this.socket.writableLength + this.outBytes > REPLY_BACKLOG_LIMIT)
      throw new H2ConnectionError('the peer does not read what it asks for (PING / SETTINGS flood)', H2Error.ENHANCE_YOUR_CALM);
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError('SETTINGS on a stream', H2Error.PROTOCOL_ERROR);
    if (flags & Flag.ACK) {
      if (payload.length !== 0) throw new H2ConnectionError('SETTINGS ACK with a payload', H2Error.FRAME_SIZE_ERROR);
      return;
    }
    if (payload.length % 6 !== 0) throw new H2ConnectionError('SETTINGS payload not a multiple of 6', H2Error.FRAME_SIZE_ERROR);
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      switch (id) {
        case Setting.ENABLE_PUSH:
          if (value > 1) throw new H2ConnectionError('SETTINGS_ENABLE_PUSH not 0 or 1', H2Error.PROTOCOL_ERROR);
          break;
        case Setting.MAX_CONCURRENT_STREAMS:
          this.peerMaxConcurrent = value;
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) throw new H2ConnectionError('SETTINGS_INITIAL_WINDOW_SIZE too large', H2Error.FLOW_CONTROL_ERROR);
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) throw new H2ConnectionError('stream window overflow', H2Error.FLOW_CONTROL_ERROR);
          }
          if (delta > 0) this.pumpBlocked();
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME || value > 16_777_215)
            throw new H2ConnectionError('SETTINGS_MAX_FRAME_SIZE out of range', H2Error.PROTOCOL_ERROR);
          this.peerMaxFrame = value;
          break;
        default:
          // HEADER_TABLE_SIZE (our encoder keeps no table), MAX_HEADER_LIST_SIZE (advisory) and unknown ids.
          break;
      }
    }
    this.checkReplyBacklog();
    this.queue(frame(FrameType.SETTINGS, Flag.ACK, 0));
    this.startWaiting();
    if (!this.gotSettings) {
      this.gotSettings = true;
      this.emit('remoteSettings');
    }
  }

  private onGoaway(streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError('GOAWAY on a stream', H2Error.PROTOCOL_ERROR);
    if (payload.length < 8) throw new H2ConnectionError('GOAWAY payload too short', H2Error.FRAME_SIZE_ERROR);
    const last = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    this.goawayReceived = true;
    this.goawayLastStreamId = Math.min(this.goawayLastStreamId, last);
    // Streams we opened past `last` never reached the peer: refused, safe to send again.
    for (const s of [...this.streams.values()]) if (s instanceof H2ClientStream && s.id > last) s.onReset(H2Error.REFUSED_STREAM);
    this.waiting.length = 0;
    this.emit('goaway', code, last);
    this.endIfIdle();
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new H2ConnectionError('WINDOW_UPDATE payload is not 4 bytes', H2Error.FRAME_SIZE_ERROR);
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new H2ConnectionError('WINDOW_UPDATE of 0', H2Error.PROTOCOL_ERROR);
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) throw new H2ConnectionError('connection window overflow', H2Error.FLOW_CONTROL_ERROR);
      this.pumpBlocked();
      return;
    }
    const s = this.streams.get(streamId);
    if (s === undefined) {
      if (this.isIdle(streamId)) throw new H2ConnectionError(`WINDOW_UPDATE on idle stream ${streamId}`, H2Error.PROTOCOL_ERROR);
      return;
    }
    if (increment === 0) {
      this.streamError(s, H2Error.PROTOCOL_ERROR);
      return;
    }
    s.sendWindow += increment;
    if (s.sendWindow > MAX_WINDOW) {
      this.streamError(s, H2Error.FLOW_CONTROL_ERROR);
      return;
    }
    this.pump(s);
  }

  /** A stream id never opened: idle (RFC 9113 §5.1). */
  private isIdle(streamId: number): boolean {
    const ours = (streamId % 2 === 1) === (this.role === 'client');
    return ours ? streamId >= this.nextStreamId : streamId > this.lastPeerStreamId;
  }

  /** A frame for a stream that is not open. */
  private unknownStream(streamId: number, what: string): void {
    if (this.isIdle(streamId)) throw new H2ConnectionError(`${what} on idle stream ${streamId}`, H2Error.PROTOCOL_ERROR);
    // A stream we reset or finished: the peer may not have seen it yet (RFC 9113 §5.1, "closed").
    this.checkReplyBacklog();
    this.queue(rstStreamFrame(streamId, H2Error.STREAM_CLOSED));
  }

  private streamError(s: H2Stream, code: number): void {
    s.close(code);
    this.endIfIdle();
  }

  // ---- writing ----

  /** The head of a server stream's response (or any header block on an open stream). */
  sendHeaders(s: H2Stream, headers: OutgoingHttpHeaders, endStream: boolean): void {
    this.queueHeaderBlock(s.id, this.encoder.encode(fieldsOf(headers)), endStream);
  }

  private queueHeaderBlock(id: number, block: Buffer, endStream: boolean): void {
    for (const f of headersFrames(id, block, endStream, this.peerMaxFrame)) this.queue(f);
  }

  /** DATA for `s`; `callback` once it left (or the stream ended). */
  queueData(s: H2Stream, chunk: Buffer, callback: ((err?: Error | null) => void) | undefined): void {
    if (chunk.length === 0) {
      callback?.(null);
      return;
    }
    s.queue.push({ chunk, offset: 0, callback });
    s.queuedBytes += chunk.length;
    this.pump(s);
  }

  /** END_STREAM after the queued DATA: an empty DATA frame, or trailers when given. */
  queueEnd(s: H2Stream, trailers: OutgoingHttpHeaders | undefined): void {
    if (s.endQueued) return;
    s.endQueued = true;
    if (trailers !== undefined && Object.keys(trailers).length > 0) s.trailersToSend = this.encoder.encode(fieldsOf(trailers));
    this.pump(s);
  }

  /** RST_STREAM for a stream we end. */
  resetStream(s: H2Stream, code: number): void {
    this.blocked.delete(s);
    if (!this.isDestroyed) this.queue(rstStreamFrame(s.id, code));
  }

  /** The stream is over: it leaves the connection's tables. */
  forget(s: H2Stream): void {
    if (this.streams.get(s.id) === s) this.streams.delete(s.id);
    this.blocked.delete(s);
    const w = this.waiting.findIndex((x) => x.stream === s);
    if (w >= 0) this.waiting.splice(w, 1);
    this.startWaiting();
    this.endIfIdle();
  }

  /** Sends what the windows and the socket allow of `s`'s queued DATA, then its END_STREAM when due. */
  private pump(s: H2Stream): void {
    if (s.rstCode !== undefined || this.isDestroyed) return;
    if (this.waiting.some((x) => x.stream === s)) return;
    while (s.queue.length > 0) {
      const w = s.queue[0]!;
      const left = w.chunk.length - w.offset;
      const n = Math.min(left, s.sendWindow, this.sendWindow, this.peerMaxFrame);
      if (n <= 0 || this.socketBlocked) {
        this.blocked.add(s);
        return;
      }
      const last = n === left && s.queue.length === 1 && s.endQueued && s.trailersToSend === undefined;
      const header = frameHeader(n, FrameType.DATA, last ? Flag.END_STREAM : 0, s.id);
      s.lastDataHeader = header;
      s.lastDataGeneration = this.flushGeneration;
      this.queue(header);
      this.queue(w.offset === 0 && n === w.chunk.length ? w.chunk : w.chunk.subarray(w.offset, w.offset + n));
      w.offset += n;
      s.sendWindow -= n;
      this.sendWindow -= n;
      s.queuedBytes -= n;
      if (w.offset === w.chunk.length) {
        s.queue.shift();
        w.callback?.(null);
        if (s.rstCode !== undefined) return;
      }
      if (last) {
        s.endQueued = false;
        this.blocked.delete(s);
        s.onLocalEnd();
        return;
      }
    }
    this.blocked.delete(s);
    if (s.endQueued && !s.localEnded) {
      s.endQueued = false;
      const t = s.trailersToSend;
      s.trailersToSend = undefined;
      if (t !== undefined) this.queueHeaderBlock(s.id, t, true);
      else if (s.lastDataHeader !== undefined && s.lastDataGeneration === this.flushGeneration) {
        // The stream's last DATA frame is still queued: it carries END_STREAM (no empty frame after it).
        s.lastDataHeader[4]! |= Flag.END_STREAM;
      } else this.queue(frameHeader(0, FrameType.DATA, Flag.END_STREAM, s.id));
      s.lastDataHeader = undefined;
      s.onLocalEnd();
    }
  }

  private pumpBlocked(): void {
    if (this.blocked.size === 0) return;
    for (const s of [...this.blocked]) {
      if (this.sendWindow <= 0 || this.socketBlocked) return;
      this.pump(s);
    }
  }

  /** Client streams held by the peer's concurrency limit go out as others end (or the limit rises). */
  private startWaiting(): void {
    while (this.waiting.length > 0 && this.streams.size - this.waiting.length < this.peerMaxConcurrent) {
      const w = this.waiting.shift()!;
      this.queueHeaderBlock(w.stream.id, w.block, w.endStream);
      this.pump(w.stream);
    }
  }

  private queue(buf: Buffer): void {
    this.out.push(buf);
    this.outBytes += buf.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.flushGeneration++;
    const out = this.out;
    if (out.length === 0 || this.socket.destroyed) {
      this.out = [];
      this.outBytes = 0;
      return;
    }
    this.out = [];
    const bytes = this.outBytes;
    this.outBytes = 0;
    let ok: boolean;
    if (out.length === 1) ok = this.socket.write(out[0]!);
    else if (bytes <= 16 * 1024) ok = this.socket.write(Buffer.concat(out, bytes));
    else {
      this.socket.cork();
      for (const b of out) this.socket.write(b);
      this.socket.uncork();
      ok = this.socket.writableLength === 0 || !this.socket.writableNeedDrain;
    }
    if (!ok) this.socketBlocked = true;
  };

  private readonly onDrain = (): void => {
    this.socketBlocked = false;
    this.pumpBlocked();
  };

  // ---- ending ----

  private endIfIdle(): void {
    if (this.isDestroyed || !this.closed || this.streams.size > 0) return;
    // Every stream is done and no new one will start: flush, then end the socket.
    this.flush();
    this.isDestroyed = true;
    this.socket.end();
    this.socket.once('finish', () => this.socket.destroy());
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private fail(err: unknown): void {
    if (err instanceof H2ConnectionError) {
      if (!this.isDestroyed) this.queue(goawayFrame(this.lastPeerStreamId, err.h2Code, err.message));
      this.destroy(new Error(`HTTP/2 ${errorName(err.h2Code)}: ${err.message}`));
      return;
    }
    this.destroy(err instanceof Error ? err : new Error(String(err)));
  }

  private readonly onSocketError = (err: Error): void => {
    this.destroy(err);
  };

  private readonly onSocketEnd = (): void => {
    // The peer will send nothing more: no new stream, and streams still waiting for it cannot complete.
    this.peerEnded = true;
    if (this.streams.size > 0) this.destroy();
    else this.socket.end();
  };

  private readonly onSocketClose = (): void => {
    this.isDestroyed = true;
    for (const s of [...this.streams.values()]) s.onConnectionGone(undefined);
    this.streams.clear();
    this.emitClose();
  };

  private emitClose(): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    // After the socket's own events: listeners see a finished connection.
    process.nextTick(() => this.emit('close'));
  }
}

/** The fields as one header object when they make a well-formed `kind`; undefined when the message is malformed. */
function wellFormed(fields: readonly HeaderField[], kind: MessageKind): IncomingHttpHeaders | undefined {
  try {
    return headersOf(fields, kind);
  } catch (err) {
    if (err instanceof MalformedError) return undefined;
    throw err;
  }
}

/** A PADDED frame's payload without its pad length byte and padding. */
function unpad(payload: Buffer): Buffer {
  if (payload.length < 1) throw new H2ConnectionError('padded frame without a pad length', H2Error.FRAME_SIZE_ERROR);
  const pad = payload[0]!;
  if (pad >= payload.length) throw new H2ConnectionError('padding longer than the frame', H2Error.PROTOCOL_ERROR);
  return payload.subarray(1, payload.length - pad);
}
