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
 * Contract: `hold` never writes; the chunks go to `write`, in order, either
 * when `release` is called (the source ended: the caller writes the end
 * right after, in the same tick) or in the check phase of the current turn
 * (setImmediate), so a streaming body is delayed by at most one loop turn
 * and never accumulates more than one read's worth. `drop` forgets what is
 * held (the destination is gone).
 */
export class HeldChunks {
  private chunks: Buffer[] = [];
  private immediate: NodeJS.Immediate | undefined;

  constructor(private readonly write: (chunk: Buffer) => void) {}

  hold(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.immediate ??= setImmediate(this.release);
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
    for (const chunk of held) this.write(chunk);
  };

  drop(): void {
    if (this.immediate !== undefined) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    this.chunks = [];
  }
}
