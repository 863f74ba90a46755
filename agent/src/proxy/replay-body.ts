/**
 * A request body that streams to the first try at once and can be replayed
 * to a later try. While the client's body flows to the current try, the
 * chunks are also kept, up to `limit` bytes (64 KiB by default): a retry gets
 * a new stream that starts with the kept chunks and then continues with
 * whatever the client still sends. A body larger than the limit (known from
 * content-length, or found out while streaming) drops what it kept and can
 * no longer be replayed, so it is never retried. The first try is never
 * delayed: nothing waits for the body to be complete.
 *
 * Backpressure: when the current try's stream is full, the client's request
 * is paused until it drains. A try that fails is abandoned (the client drops
 * its stream); the client's request is resumed and feeds the next one.
 * A client that goes away mid-upload destroys the current stream, which
 * aborts the upstream request, and makes the body unreplayable.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { BodyReader, Http1Request } from '../http1/server-message.js';

class ClientGone extends Error {
  override name = 'ClientGone';
}

/** True when the request carries a body (a non-zero content-length or chunked). */
export function hasBody(req: Http1Request): boolean {
  return req.hasBody;
}

export class ReplayableBody implements BodyReader {
  /** Kept chunks; null once the body went over the limit (no replay possible). */
  private kept: Buffer[] | null = [];
  private keptBytes = 0;
  private ended = false;
  private gone = false;
  private current: PassThrough | null = null;
  private streams = 0;

  constructor(
    private readonly req: Http1Request,
    private readonly limit: number,
  ) {
    if (req.contentLength > limit) this.kept = null;
  }

  /** True while a later try could still get the whole body. */
  get replayable(): boolean {
    return this.kept !== null && !this.gone;
  }

  /**
   * The stream for the next try: live for the first; for later ones the kept
   * chunks followed by the rest, or undefined when the body cannot be replayed.
   */
  nextStream(): Readable | undefined {
    const first = this.streams++ === 0;
    if (!first && !this.replayable) return undefined;
    const previous = this.current;
    const s = new PassThrough();
    this.current = s;
    if (previous !== null) {
      previous.off('drain', this.resume);
      if (!previous.destroyed) previous.destroy();
      for (const chunk of this.kept ?? []) s.write(chunk);
      if (this.req.isPaused()) this.req.resume();
    }
    // Reading starts with the first try, so no byte arrives before there is a stream for it.
    if (first) this.req.readBody(this);
    if (this.gone) s.destroy(new ClientGone('client closed the connection before sending the whole body'));
    else if (this.ended) s.end();
    return s;
  }

  onData(chunk: Buffer): void {
    if (this.kept !== null) {
      this.keptBytes += chunk.length;
      if (this.keptBytes > this.limit) this.kept = null;
      else this.kept.push(chunk);
    }
    const s = this.current;
    if (s === null || s.destroyed) return;
    if (!s.write(chunk)) {
      this.req.pause();
      s.once('drain', this.resume);
    }
  }

  private readonly resume = (): void => {
    this.req.resume();
  };

  onEnd(): void {
    this.ended = true;
    const s = this.current;
    if (s !== null && !s.destroyed) s.end();
  }

  onAbort(): void {
    this.gone = true;
    this.current?.destroy(new ClientGone('client closed the connection before sending the whole body'));
  }
}
