/**
 * One HTTP/2 stream of an H2Connection, as a Duplex: the readable side is
 * the peer's DATA, the writable side ours. Server streams (a request the
 * peer opened) `respond`; client streams (a request we opened) emit
 * 'response'. Both may end with trailers.
 *
 * The members are the ones the agent's pipeline used of node:http2's
 * streams, with the same meaning, so the pipeline reads the same either
 * way: respond / sendTrailers / 'wantTrailers' (waitForTrailers), close(code)
 * and rstCode, headersSent / sentHeaders, endAfterHeaders, session, and the
 * 'response' / 'trailers' events.
 *
 * Flow control: DATA is credited back to the peer (WINDOW_UPDATE) as the
 * readable side hands it on; while its buffer is full (a paused or slow
 * consumer) the credit waits for _read, so the peer stops once the stream
 * window is used up. Writes leave when the peer's windows allow; until
 * then their callbacks wait, which is what 'drain' and writableLength see.
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { Duplex } from 'node:stream';
import type { H2Connection } from './connection.js';
import { H2Error } from './frames.js';

export interface PendingWrite {
  chunk: Buffer;
  offset: number;
  callback: ((err?: Error | null) => void) | undefined;
}

export class H2StreamError extends Error {
  override name = 'H2StreamError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export abstract class H2Stream extends Duplex {
  /** The RST_STREAM code the stream closed with (NO_ERROR for a stream both sides ended); undefined while open. */
  rstCode: number | undefined = undefined;
  /** The request arrived with END_STREAM on its HEADERS (no body). */
  endAfterHeaders = false;
  headersSent = false;
  sentHeaders: OutgoingHttpHeaders | undefined = undefined;

  // Connection bookkeeping (connection.ts).
  sendWindow: number;
  recvWindow: number;
  /** DATA bytes handed on and not yet credited back. */
  recvUnacked = 0;
  /** Credit is held back until _read (the readable buffer was full). */
  creditHeld = false;
  /** Declared content-length of what the peer sends, or -1; and what arrived. */
  expectedLength = -1;
  receivedLength = 0;
  remoteEnded = false;
  localEnded = false;
  /** Our END_STREAM waits for queued DATA to leave; trailers to send with it. */
  endQueued = false;
  trailersToSend: Buffer | undefined = undefined;
  /** The header of the last DATA frame queued, and the connection's flush generation then (connection.ts). */
  lastDataHeader: Buffer | undefined = undefined;
  lastDataGeneration = -1;
  readonly queue: PendingWrite[] = [];
  queuedBytes = 0;
  protected finalCallback: ((err?: Error | null) => void) | undefined = undefined;
  protected waitForTrailers = false;

  constructor(
    readonly id: number,
    readonly session: H2Connection,
    sendWindow: number,
    recvWindow: number,
    writableHighWaterMark: number,
  ) {
    super({ allowHalfOpen: true, writableHighWaterMark, autoDestroy: false, emitClose: true });
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
    // A reset is the peer's or the app's business, reported by 'close' and rstCode; an 'error' nobody listens for must not end the process.
    this.on('error', ignore);
  }

  /** Ends the stream with RST_STREAM `code` (default NO_ERROR); nothing more is sent or delivered. */
  close(code: number = H2Error.NO_ERROR): void {
    if (this.rstCode !== undefined || this.destroyed) return;
    this.rstCode = code;
    this.session.resetStream(this, code);
    this.abandon(undefined);
  }

  /** A reset from the peer. */
  onReset(code: number): void {
    if (this.rstCode !== undefined || this.destroyed) return;
    this.rstCode = code;
    const err =
      code === H2Error.NO_ERROR || code === H2Error.CANCEL
        ? undefined
        : new H2StreamError(`stream reset by the peer (RST_STREAM ${code})`, 'ERR_HTTP2_STREAM_ERROR');
    this.abandon(err);
  }

  /** The connection ended under the stream. */
  onConnectionGone(err: Error | undefined): void {
    if (this.rstCode !== undefined || this.destroyed) return;
    this.rstCode = H2Error.CANCEL;
    this.abandon(err);
  }

  /** Reset (either side) or connection gone: pending writes are dropped and the stream is destroyed now. */
  private abandon(err: Error | undefined): void {
    this.session.forget(this);
    const pending = this.queue.splice(0);
    this.queuedBytes = 0;
    for (const w of pending) w.callback?.(null);
    const fin = this.finalCallback;
    this.finalCallback = undefined;
    fin?.(null);
    if (!this.destroyed) this.destroy(err);
  }

  /** END_STREAM arrived (data or trailers before it were delivered). */
  onRemoteEnd(): void {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    this.push(null);
    if (this.localEnded) this.bothEnded();
  }

  /** Our END_STREAM was queued. */
  onLocalEnd(): void {
    if (this.localEnded) return;
    this.localEnded = true;
    const fin = this.finalCallback;
    this.finalCallback = undefined;
    fin?.(null);
    if (this.remoteEnded) this.bothEnded();
    else this.localEndedFirst();
  }

  /** A server that answered before the request ended stops the upload (RST_STREAM NO_ERROR, RFC 9113 §8.1). */
  protected localEndedFirst(): void {}

  /** The exchange completed on the wire: the stream leaves the connection and is destroyed once its reader is done. */
  private bothEnded(): void {
    this.rstCode = H2Error.NO_ERROR;
    this.session.forget(this);
    this.once('end', this.maybeDestroy);
    this.once('finish', this.maybeDestroy);
    this.maybeDestroy();
  }

  private readonly maybeDestroy = (): void => {
    if (this.destroyed || !this.writableFinished) return;
    // A response read by nobody yet must stay readable (its data is buffered); a request's body is moot once answered.
    if (this.keepsUnreadData && !this.readableEnded) return;
    this.destroy();
  };

  /** Whether buffered data must still reach a reader after the exchange completed (client streams: the response). */
  protected abstract readonly keepsUnreadData: boolean;

  override _read(): void {
    if (this.creditHeld) {
      this.creditHeld = false;
      this.session.credit(this);
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.rstCode !== undefined) {
      callback(null);
      return;
    }
    this.beforeData();
    this.session.queueData(this, chunk, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    if (this.rstCode !== undefined) {
      callback(null);
      return;
    }
    this.beforeData();
    for (let i = 0; i < chunks.length; i++) this.session.queueData(this, chunks[i]!.chunk, i === chunks.length - 1 ? callback : undefined);
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.rstCode !== undefined || this.localEnded) {
      callback(null);
      return;
    }
    this.beforeData();
    this.finalCallback = callback;
    if (this.waitForTrailers) {
      // sendTrailers (from a 'wantTrailers' listener, or later) ends the stream.
      this.emit('wantTrailers');
      return;
    }
    this.session.queueEnd(this, undefined);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.rstCode === undefined) {
      // Destroyed by its user before both sides ended: the peer is told.
      this.rstCode = err ? H2Error.INTERNAL_ERROR : H2Error.CANCEL;
      this.session.resetStream(this, this.rstCode);
      this.session.forget(this);
    }
    callback(err);
  }

  /** Sends the trailers and ends the stream (after 'wantTrailers'). */
  sendTrailers(headers: OutgoingHttpHeaders): void {
    if (this.rstCode !== undefined || this.localEnded) return;
    this.session.queueEnd(this, headers);
  }

  /**
   * Writes `chunk` and ends the stream with `trailers`, both queued now so they leave in the same flush
   * as the head (a unary gRPC answer in one socket write, where write() + end() + 'wantTrailers' took
   * two event-loop turns). Only for a stream with nothing waiting in its writable buffer; false otherwise
   * (the caller then ends it the usual way).
   */
  finishWith(chunk: Buffer, trailers: OutgoingHttpHeaders): boolean {
    if (this.rstCode !== undefined || this.destroyed) return true;
    if (this.writableLength > 0 || this.writableEnded || this.localEnded) return false;
    this.beforeData();
    this.session.queueData(this, chunk, undefined);
    this.session.queueEnd(this, trailers);
    this.end();
    return true;
  }

  /** Hook before the first DATA (a server stream that never responded answers 200 first, as node does). */
  protected beforeData(): void {}
}

/** A request the peer opened. */
export class H2ServerStream extends H2Stream {
  /** Sends the response head; `endStream` ends the stream with it, `waitForTrailers` makes `end()` emit 'wantTrailers'. */
  respond(headers: OutgoingHttpHeaders = {}, options?: { endStream?: boolean; waitForTrailers?: boolean }): void {
    if (this.rstCode !== undefined || this.destroyed) return;
    if (this.headersSent) throw new H2StreamError('response head already sent', 'ERR_HTTP2_HEADERS_SENT');
    const head = headers[':status'] === undefined ? { ...headers, ':status': 200 } : headers;
    this.headersSent = true;
    this.sentHeaders = head;
    this.waitForTrailers = options?.waitForTrailers === true;
    if (options?.endStream === true) {
      // The head is the whole answer: the writable side ends with it.
      this.session.sendHeaders(this, head, true);
      this.onLocalEnd();
      this.end();
    } else this.session.sendHeaders(this, head, false);
  }

  protected readonly keepsUnreadData = false;

  protected override beforeData(): void {
    if (!this.headersSent) this.respond({ ':status': 200 });
  }

  protected override localEndedFirst(): void {
    this.close(H2Error.NO_ERROR);
  }
}

/** A request we opened on a client connection. */
export class H2ClientStream extends H2Stream {
  /** The final (non-1xx) response head arrived. */
  responded = false;
  protected readonly keepsUnreadData = true;
}

function ignore(): void {}
