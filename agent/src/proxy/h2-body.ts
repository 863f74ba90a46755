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
 */
import { PassThrough, type Readable } from 'node:stream';

export class H2ReplayBody {
  private kept: Buffer[] | null = [];
  private keptBytes = 0;
  private ended = false;
  private gone = false;
  private sent = 0;
  private current: PassThrough | null = null;
  private streams = 0;

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

  /** The stream for the next try (see replay-body.ts), or undefined when the body cannot be replayed. */
  nextStream(): Readable | undefined {
    const first = this.streams++ === 0;
    if (!first && !this.replayable) return undefined;
    const previous = this.current;
    const s = new PassThrough({ highWaterMark: 64 * 1024 });
    this.current = s;
    if (previous !== null) {
      previous.off('drain', this.resume);
      if (!previous.destroyed) previous.destroy();
      for (const chunk of this.kept ?? []) s.write(chunk);
      if (this.source.isPaused()) this.source.resume();
    }
    if (first) {
      this.source.on('data', this.onData);
      this.source.once('end', this.onEnd);
      this.source.once('aborted', this.onAbort);
      this.source.once('close', this.onClose);
    }
    if (this.gone) s.destroy(new Error('client went away before sending the whole body'));
    else if (this.ended) s.end();
    return s;
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.kept !== null) {
      this.keptBytes += chunk.length;
      if (this.keptBytes > this.limit) this.kept = null;
      else this.kept.push(chunk);
    }
    const s = this.current;
    if (s === null || s.destroyed) return;
    this.sent += chunk.length;
    if (!s.write(chunk)) {
      this.source.pause();
      s.once('drain', this.resume);
    }
  };

  private readonly resume = (): void => {
    this.source.resume();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    const s = this.current;
    if (s !== null && !s.destroyed) s.end();
  };

  private readonly onAbort = (): void => {
    this.gone = true;
    this.current?.destroy(new Error('client went away before sending the whole body'));
  };

  private readonly onClose = (): void => {
    if (!this.ended) this.onAbort();
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
