/**
 * The request body of an HTTP/2 stream, streamed to the first try at once
 * and replayable to a later try, like replay-body.ts for HTTP/1.1: chunks
 * are kept up to `limit` bytes (64 KiB); a body larger than that can no
 * longer be replayed. One more rule for streams: once bytes went to an
 * upstream while the client has not finished its body (a streaming call
 * that sent a message and keeps sending), it is not replayable either, so
 * a retry never re-sends part of a conversation the app may be acting on.
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
  ) {}

  /** True while a later try could still get the whole body. */
  get replayable(): boolean {
    return this.kept !== null && !this.gone && (this.ended || this.sent === 0);
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
