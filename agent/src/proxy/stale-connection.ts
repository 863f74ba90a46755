/**
 * Detects the keep-alive race: the server closes an idle connection just as
 * we send the next request on it. undici already checks an idle socket for a
 * pending FIN before reusing it; what is left is a FIN or RST that is still
 * on the wire when we write. The request then fails with a socket error
 * (ECONNRESET, EPIPE, or undici's "other side closed") although the server
 * application never read it, and is safe to send again whatever its method.
 *
 * The test, per socket, needs no per-request work:
 *   - reused: the socket had already received bytes (an earlier response);
 *   - our request went out after the last byte we received: the socket's
 *     bytesWritten grew since the last time bytes arrived;
 *   - nothing of a response arrived since: bytesRead did not change.
 * All three hold only for "the server went away between two requests".
 * A fresh connection that dies, or one that dies after part of a response,
 * is never stale. Residual ambiguity, shared with every HTTP/1.1 client: an
 * app that reads a request and crashes without writing a single byte on a
 * reused connection looks the same from this side.
 *
 * The verdict is computed when the socket reports its error and stored on
 * the error object (the same object undici rejects the request with).
 */
import type { Socket } from 'node:net';
import { buildConnector } from 'undici';

const STALE = Symbol('weft.staleConnection');

interface SocketUse {
  /** bytesRead the last time bytes arrived (0: nothing ever arrived). */
  lastRead: number;
  /** bytesWritten at that moment. */
  writtenAtLastRead: number;
}

const SOCKET_ERROR_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** True when `err` is the keep-alive race on a reused connection (see the file comment). */
export function isStaleConnectionError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { [STALE]?: boolean })[STALE] === true;
}

/** Starts watching `socket`; call once, right after it connected and before it carries a request. */
export function watchSocketReuse(socket: Socket): void {
  const use: SocketUse = { lastRead: 0, writtenAtLastRead: 0 };
  // 'readable' fires before undici (listening to the same event) reads the bytes.
  socket.on('readable', () => {
    const read = socket.bytesRead;
    if (read !== use.lastRead) {
      use.lastRead = read;
      use.writtenAtLastRead = socket.bytesWritten;
    }
  });
  socket.prependListener('error', (err: Error & { code?: string; [STALE]?: boolean }) => {
    if (
      err !== null &&
      typeof err === 'object' &&
      SOCKET_ERROR_CODES.has(err.code ?? '') &&
      use.lastRead > 0 &&
      socket.bytesRead === use.lastRead &&
      socket.bytesWritten > use.writtenAtLastRead
    ) {
      err[STALE] = true;
    }
  });
}

/** An undici connector (plain TCP, as undici's default) whose sockets are watched for the race. */
export function reuseAwareConnector(options: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector(options);
  return (opts, callback) =>
    connect(opts, (...args: Parameters<buildConnector.Callback>) => {
      if (args[0] === null) watchSocketReuse(args[1]);
      callback(...args);
    });
}
