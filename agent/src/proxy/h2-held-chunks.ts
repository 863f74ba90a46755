/**
 * Chunks read from one HTTP/2 stream on their way to another, held until
 * the end of the event-loop turn that read them, so that the last chunk
 * and the end of the stream leave in one write.
 *
 * Why: node:http2 delivers each frame of a read in its own callback and
 * runs the process.nextTick queue after each. A chunk written at once is
 * checked for "was end() called too?" on that tick, before the END_STREAM
 * (or the trailers) that came in the same read has been delivered; the end
 * then waits for the chunk's write to complete and goes out in a later
 * write (for trailers, a later turn of the loop). A unary gRPC call thus
 * cost two writes and two turns each way. Held until its source ends (same
 * turn: the 'end' is delivered within the read that brought END_STREAM),
 * the last chunk is written together with end(), and node puts DATA and
 * END_STREAM (or DATA and the trailers) into one frame batch and one write.
 *
 * Contract: the chunks go to `write`, in order, either when `release` is
 * called (the source ended: the caller writes the end right after, in the
 * same tick), or in the check phase of the current turn (setImmediate), or
 * at once when HOLD_BYTES are held: only small bodies are held (a unary
 * call's message), a stream of large chunks is written as it comes, as
 * before, where one more frame for END_STREAM costs nothing. `drop` forgets
 * what is held (the destination is gone).
 */
/** Held bytes beyond which chunks are written at once. */
export const HOLD_BYTES = 16 * 1024;

export class HeldChunks {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private immediate: NodeJS.Immediate | undefined;

  constructor(private readonly write: (chunk: Buffer) => void) {}

  hold(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= HOLD_BYTES) this.release();
    else this.immediate ??= setImmediate(this.release);
  }

  /** Writes what is held, in order, now. */
  readonly release = (): void => {
    if (this.immediate !== undefined) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    const held = this.chunks;
    if (held.length === 0) return;
    this.chunks = [];
    this.bytes = 0;
    for (const chunk of held) this.write(chunk);
  };

  drop(): void {
    if (this.immediate !== undefined) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    this.chunks = [];
    this.bytes = 0;
  }
}
