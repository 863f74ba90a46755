/**
 * A connection that stopped speaking HTTP/1.1: after a 101 Switching
 * Protocols (either side of an upgrade) or a 2xx answer to CONNECT, its
 * bytes are the application's, unchanged, in both directions.
 *
 * The codec hands one of these out and keeps feeding it: the server and
 * client connections read into a shared buffer (net's `onread`), so they go
 * on receiving the socket's reads and pass copies here (`push`, `pushEnd`,
 * `pushClose`). A socket nobody parsed before (a plain net connection)
 * is wrapped with `SocketTunnel.attach`, which listens itself.
 *
 * Contract: exactly one reader (`start`), called for data in order, then at
 * most one `onEnd` (the peer half-closed: no more bytes will come; this side
 * can still write), then exactly one `onClose`. Bytes read before the switch
 * (`head`) are delivered first. The socket allows half-open connections:
 * `end()` sends FIN and leaves reading open. Nothing here knows of the mesh.
 */
import type { Socket } from 'node:net';

export interface TunnelReader {
  /** Bytes from the peer (owned by the reader); false pauses reading until `resume()`. */
  onData(chunk: Buffer): boolean;
  /** The peer half-closed its side: no more bytes will come. */
  onEnd(): void;
  /** The socket is closed both ways; `hadError` when it failed (a reset) rather than ended. */
  onClose(hadError: boolean): void;
}

export class SocketTunnel {
  /** Bytes received from the peer (after the switch, `head` included). */
  bytesRead = 0;
  /** Bytes handed to the socket to send. */
  bytesWritten = 0;
  private reader: TunnelReader | null = null;
  private queue: Buffer[] | null = null;
  private ended = false;
  private closed: boolean | null = null;
  private paused = false;

  constructor(
    readonly socket: Socket,
    head: Buffer | null,
  ) {
    socket.allowHalfOpen = true;
    if (head !== null && head.length > 0) this.queue = [head];
  }

  /** Wraps a socket whose reads nobody else handles (it emits 'data'). */
  static attach(socket: Socket, head: Buffer | null = null): SocketTunnel {
    const t = new SocketTunnel(socket, head);
    socket.on('data', (chunk: Buffer) => t.push(chunk));
    socket.on('end', () => t.pushEnd());
    socket.on('error', () => {});
    socket.on('close', (hadError: boolean) => t.pushClose(hadError));
    return t;
  }

  /** Starts delivering to `reader` (once): queued bytes first, synchronously. */
  start(reader: TunnelReader): void {
    if (this.reader !== null) throw new Error('socket tunnel is already being read');
    this.reader = reader;
    const queue = this.queue;
    this.queue = null;
    if (queue !== null) for (const chunk of queue) this.deliver(chunk);
    if (this.ended) reader.onEnd();
    if (this.closed !== null) reader.onClose(this.closed);
    else if (!this.paused && this.socket.isPaused()) this.socket.resume();
  }

  private deliver(chunk: Buffer): void {
    this.bytesRead += chunk.length;
    if (!this.reader!.onData(chunk)) this.pause();
  }

  /** Sends bytes to the peer; false when the socket's buffer is full (wait for `onDrain`). */
  write(chunk: Buffer): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return true;
    this.bytesWritten += chunk.length;
    return this.socket.write(chunk);
  }

  /** Half-closes: sends FIN after what was written; reading goes on. */
  end(): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  onDrain(fn: () => void): void {
    this.socket.on('drain', fn);
  }

  offDrain(fn: () => void): void {
    this.socket.off('drain', fn);
  }

  // --- the owner's side ---

  /** @internal Bytes read from the socket (a copy the tunnel may keep). */
  push(chunk: Buffer): void {
    if (this.reader === null) {
      if (this.queue === null) this.queue = [chunk];
      else this.queue.push(chunk);
      // Nobody reads yet: stop the socket until someone does.
      if (!this.socket.isPaused()) this.socket.pause();
      return;
    }
    this.deliver(chunk);
  }

  /** @internal The peer sent FIN. */
  pushEnd(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.reader !== null && this.queue === null) this.reader.onEnd();
  }

  /** @internal The socket closed. */
  pushClose(hadError: boolean): void {
    if (this.closed !== null) return;
    this.closed = hadError;
    if (this.reader !== null && this.queue === null) this.reader.onClose(hadError);
  }
}
