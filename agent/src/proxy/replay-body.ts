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
 * is paused until it drains. A try that fails is abandoned (undici destroys
 * its stream); the client's request is resumed and feeds the next one.
 * A client that goes away mid-upload destroys the current stream, which
 * aborts the upstream request, and makes the body unreplayable.
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';

class ClientGone extends Error {
  override name = 'ClientGone';
}

/** True when the request carries a body (a non-zero content-length or any transfer-encoding). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl.trim() !== '0';
}

export class ReplayableBody {
  /** Kept chunks; null once the body went over the limit (no replay possible). */
  private kept: Buffer[] | null = [];
  private keptBytes = 0;
  private ended = false;
  private gone = false;
  private current: PassThrough | null = null;
  private streams = 0;

  constructor(
    private readonly req: IncomingMessage,
    private readonly limit: number,
  ) {
    const cl = Number(req.headers['content-length']);
    if (cl > limit) this.kept = null;
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
    if (this.streams++ === 0) {
      // Reading starts with the first try, so no byte arrives before there is a stream for it.
      this.req.on('data', this.onData);
      this.req.once('end', this.onEnd);
      this.req.once('close', this.onClose);
      if (this.req.destroyed && !this.req.complete) this.gone = true;
    } else if (!this.replayable) return undefined;
    const previous = this.current;
    const s = new PassThrough();
    this.current = s;
    if (previous !== null) {
      previous.off('drain', this.resume);
      if (!previous.destroyed) previous.destroy();
      for (const chunk of this.kept ?? []) s.write(chunk);
      if (this.req.isPaused()) this.req.resume();
    }
    if (this.gone) s.destroy(new ClientGone('client closed the connection before sending the whole body'));
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
    if (!s.write(chunk)) {
      this.req.pause();
      s.once('drain', this.resume);
    }
  };

  private readonly resume = (): void => {
    this.req.resume();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    const s = this.current;
    if (s !== null && !s.destroyed) s.end();
  };

  private readonly onClose = (): void => {
    if (this.req.complete) return;
    this.gone = true;
    this.current?.destroy(new ClientGone('client closed the connection before sending the whole body'));
  };
}
