/**
 * HTTP/2 with prior knowledge on a port the HTTP/1.1 codec listens on: h2c
 * on plaintext listeners, and on the mTLS inbound listener the decrypted
 * connection after the handshake (its socket a TLSSocket that negotiated
 * ALPN h2). The codec reads each connection's first bytes, and when they
 * are the HTTP/2 preface it hands the socket over with the bytes it read
 * (http1/server-connection.ts `handOver`). Here they are put back in front
 * of the socket's stream (`unshift`) and the socket is given to a
 * node:http2 server that never listens itself ('connection'); node's
 * Http2Session then reads the socket's handle directly (the shared read
 * buffer is no longer involved) after first taking what was unshifted.
 *
 * Close: graceful close sends GOAWAY to every session (no new streams; the
 * open ones finish), and destroys what is left after the drain time.
 */
import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { H2_SETTINGS, MAX_SESSION_MEMORY_MB, SESSION_WINDOW } from './h2-settings.js';

export type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;

export class H2cServer {
  private readonly server: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();
  private closing = false;

  constructor(onStream: StreamHandler, onSessionError?: (err: Error) => void) {
    this.server = createServer({ settings: H2_SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY_MB });
    // node's default server timeout would close idle sessions after 2 minutes on some versions; sessions stay while the client keeps them.
    this.server.setTimeout(0);
    this.server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      session.on('error', (err) => onSessionError?.(err));
      session.once('connect', () => {
        try {
          session.setLocalWindowSize(SESSION_WINDOW);
        } catch {
          // The session already went away.
        }
      });
      if (this.closing) session.close();
    });
    this.server.on('stream', onStream);
  }

  /** Takes a connection the HTTP/1.1 codec recognised as h2c; `received` are the bytes it already read. */
  accept(socket: Socket, received: Buffer): void {
    if (received.length > 0) socket.unshift(received);
    this.server.emit('connection', socket);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** GOAWAY to every session; resolves when all are closed, destroying those still open after `drainMs`. */
  async close(drainMs: number): Promise<void> {
    this.closing = true;
    if (this.sessions.size === 0) return;
    const all = [...this.sessions].map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve()))));
    for (const s of this.sessions) s.close();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), drainMs);
    });
    const late = await Promise.race([Promise.all(all).then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      for (const s of this.sessions) s.destroy();
      await Promise.all(all);
    }
  }
}
