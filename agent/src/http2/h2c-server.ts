/**
 * HTTP/2 with prior knowledge on a port the HTTP/1.1 codec listens on: h2c
 * on plaintext listeners, and on the mTLS inbound listener the decrypted
 * connection after the handshake (its socket a TLSSocket that negotiated
 * ALPN h2). The HTTP/1.1 codec reads each connection's first bytes, and
 * when they are the HTTP/2 preface it hands the socket over with the bytes
 * it read (http1/server-connection.ts `handOver`). Here they become an
 * H2Connection of the agent's own HTTP/2 codec (codec/connection.ts), which
 * reads from then on: from the socket's 'data', or, for a socket that reads
 * into the process's shared read buffer, through the reader returned to the
 * HTTP/1.1 codec, which passes each later read on.
 *
 * Close: graceful close sends GOAWAY to every connection (no new streams;
 * the open ones finish), and destroys what is left after the drain time.
 */
import type { IncomingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import { closeConnections } from '@weft/shared/http2-codec/close-connections';
import { H2Connection } from '@weft/shared/http2-codec/connection';
import type { H2ServerStream } from '@weft/shared/http2-codec/stream';
import { CODEC_SETTINGS } from './h2-settings.js';

export type StreamHandler = (stream: H2ServerStream, headers: IncomingHttpHeaders) => void;

/** Takes the later reads of a handed-over socket that reads into a shared buffer (`chunk` is valid until it returns). */
export type HandedOverReader = (chunk: Buffer) => void;

export class H2cServer {
  private readonly sessions = new Set<H2Connection>();
  private closing = false;

  constructor(
    private readonly onStream: StreamHandler,
    private readonly onSessionError?: (err: Error) => void,
  ) {}

  /**
   * Takes a connection the HTTP/1.1 codec recognised as HTTP/2; `received` are the bytes it already read (a copy).
   * `sharedReads`: the socket reads into a shared buffer and the returned reader gets its later reads.
   */
  accept(socket: Socket, received: Buffer, sharedReads: boolean): HandedOverReader | undefined {
    const conn = new H2Connection({
      role: 'server',
      socket,
      settings: CODEC_SETTINGS,
      onStream: this.onStream,
      externalReads: sharedReads,
    });
    socket.setNoDelay(true);
    this.sessions.add(conn);
    conn.once('close', () => this.sessions.delete(conn));
    conn.on('error', (err: Error) => this.onSessionError?.(err));
    if (this.closing) conn.close();
    if (received.length > 0) conn.receive(received, false);
    return sharedReads ? (chunk) => conn.receive(chunk, true) : undefined;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** GOAWAY to every connection; resolves when all are closed, destroying those still open after `drainMs`. */
  async close(drainMs: number): Promise<void> {
    this.closing = true;
    await closeConnections(this.sessions, drainMs);
  }
}
