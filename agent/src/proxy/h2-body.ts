/**
 * The request body of an HTTP/2 stream, streamed to the first try at once
 * and replayable to a later try, like replay-body.ts for HTTP/1.1: chunks
 * are kept up to `limit` bytes (64 KiB); a body larger than that can no
 * longer be replayed. More rules for streams, so a retry never re-sends
 * part of a conversation the app may be acting on: once bytes went to an
 * upstream, the body is replayable only when the client has finished it,
 * and for gRPC only when it is a single message (a unary or
 * server-streaming call; a client-streaming or bidirectional call that
 * sent a message is never replayed: on the wire the two differ only in the
 * number of messages, and a one-message client stream is a unary call).
 *
 * Backpressure: when the current try's stream is full, the client's stream
 * is paused until it drains, so HTTP/2 flow control holds the client back
 * (its window is not re-opened while we do not read).
 *
 * Chunks are held to the end of the read that brought them
 * (h2-held-chunks.ts): a body that ends in that read (a unary call's one
 * message) goes upstream as one DATA frame with END_STREAM, in one write
 * with the request's HEADERS.
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { writeWithinBuffer } from '../http2/h2-settings.js';
import type { ReplaySource } from './forward.js';
import { HeldChunks } from './h2-held-chunks.js';

export class H2ReplayBody implements ReplaySource {
  private kept: Buffer[] | null = [];
  private keptBytes = 0;
  private ended = false;
  private gone = false;
  private sent = 0;
  private current: Writable | null = null;
  private waitingForDrain = false;
  private readonly held = new HeldChunks((chunk) => this.writeChunk(chunk));
  private tries = 0;
  /** Body bytes received from the client so far (the access log's bytesIn). */
  bytesReceived = 0;

  constructor(
    private readonly source: Readable,
    private readonly limit: number,
    /** The body is gRPC's length-prefixed messages. */
    private readonly grpc = false,
  ) {}

  /** True while a later try could still get the whole body (read at retry decisions only). */
  get replayable(): boolean {
    if (this.kept === null || this.gone) return false;
    if (this.sent === 0) return true;
    return this.ended && (!this.grpc || grpcMessageCount(this.kept) <= 1);
  }

  /**
   * Makes `sink` (the next try's upstream stream) the body's destination:
   * the kept chunks first for a later try, then what the client still
   * sends, ended when the client ends. False when the body cannot be
   * replayed to it. Written straight to the sink: no stream in between.
   */
  attach(sink: Writable): boolean {
    const first = this.tries++ === 0;
    if (!first && !this.replayable) return false;
    const previous = this.current;
    if (previous !== null) previous.off('drain', this.resume);
    // What was held for the previous try is in `kept` too: written below from there.
    this.held.drop();
    this.waitingForDrain = false;
    this.current = sink;
    if (!first) {
      for (const chunk of this.kept ?? []) sink.write(chunk);
      if (this.source.isPaused()) this.source.resume();
    } else {
      this.source.on('data', this.onData);
      this.source.once('end', this.onEnd);
      this.source.once('close', this.onClose);
    }
    if (this.gone) sink.destroy(new Error('client went away before sending the whole body'));
    else if (this.ended) sink.end();
    return true;
  }

  /** ReplaySource for code that wants a Readable per try (the HTTP/2 strategies use attach). */
  nextStream(): Readable | undefined {
    const s = new PassThrough();
    return this.attach(s) ? s : undefined;
  }

  private readonly onData = (chunk: Buffer): void => {
    this.bytesReceived += chunk.length;
    if (this.kept !== null) {
      this.keptBytes += chunk.length;
      if (this.keptBytes > this.limit) this.kept = null;
      else this.kept.push(chunk);
    }
    const s = this.current;
    if (s === null || s.destroyed || s.writableEnded) return;
    this.sent += chunk.length;
    this.held.hold(chunk);
  };

  private writeChunk(chunk: Buffer): void {
    const s = this.current;
    if (s === null || s.destroyed || s.writableEnded) return;
    if (!writeWithinBuffer(s, chunk) && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.source.pause();
      s.once('drain', this.resume);
    }
  }

  private readonly resume = (): void => {
    this.waitingForDrain = false;
    this.source.resume();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    // The last chunk and the end in the same tick: one DATA frame with END_STREAM.
    this.held.release();
    const s = this.current;
    if (s !== null && !s.destroyed && !s.writableEnded) s.end();
  };

  private readonly onClose = (): void => {
    if (this.ended) return;
    this.gone = true;
    this.held.drop();
    const s = this.current;
    if (s !== null && !s.destroyed) s.destroy(new Error('client went away before sending the whole body'));
  };
}

/** How many gRPC messages (1-byte flag, 4-byte length, payload) `chunks` hold; a partial one counts. */
export function grpcMessageCount(chunks: readonly Buffer[]): number {
  const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  let n = 0;
  for (let at = 0; at < buf.length; n++) {
    if (at + 5 > buf.length) return n + 1;
    at += 5 + buf.readUInt32BE(at + 1);
  }
  return n;
}
