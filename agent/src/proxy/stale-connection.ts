/**
 * The keep-alive race: the server closes an idle connection just as we send
 * the next request on it. The request then fails with a socket error
 * (ECONNRESET, EPIPE, or the connection closing) although the server
 * application never read it, and is safe to send again whatever its method.
 *
 * The upstream client (agent/src/http1/client-connection.ts) recognises it
 * exactly: the connection is a reused one (an earlier response completed on
 * it) and not one byte of the new response arrived before it failed. A fresh
 * connection that dies, or one that dies after part of a response, is never
 * stale. Residual ambiguity, shared with every HTTP/1.1 client: an app that
 * reads a request and crashes without writing a single byte on a reused
 * connection looks the same from this side.
 *
 * The verdict is stored on the error object the try fails with.
 */
const STALE = Symbol('weft.staleConnection');

/** True when `err` is the keep-alive race on a reused connection (see the file comment). */
export function isStaleConnectionError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { [STALE]?: boolean })[STALE] === true;
}

/** Marks `err` as the keep-alive race (the client calls this; see the file comment). */
export function markStale(err: Error): void {
  (err as Error & { [STALE]?: boolean })[STALE] = true;
}
