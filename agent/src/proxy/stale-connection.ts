/**
 * The keep-alive race: the server closes an idle connection just as we send
 * the next request on it. The request then fails with a socket error
 * (ECONNRESET, EPIPE, or the connection closing) although the server
 * application very probably never read it.
 *
 * The upstream client (agent/src/http1/client-connection.ts) reports the
 * facts with the failure (`ConnectionClosedError`): whether the connection
 * is a reused one (an earlier response completed on it), whether any byte of
 * the new response arrived, and how many bytes of the request it had written.
 * From them the proxy decides here:
 *   - never sent: not one byte of the request was written — the app cannot
 *     have seen it, so it may be sent again whatever its method;
 *   - keep-alive race: a reused connection closed before any byte of the
 *     answer — sent again only when the request is idempotent
 *     (retry-policy.ts), because bytes were written and an app that reads a
 *     request and dies without writing a byte looks exactly the same.
 * A fresh connection that dies, or one that dies after part of a response,
 * is neither.
 */
import { ConnectionClosedError } from '../http1/errors.js';

/** True when the connection closed before one byte of the request was written. */
export function neverSent(err: unknown): boolean {
  return err instanceof ConnectionClosedError && err.requestBytesWritten === 0;
}

/** True when `err` is the keep-alive race on a reused connection (see the file comment). */
export function isKeepAliveRace(err: unknown): boolean {
  return err instanceof ConnectionClosedError && err.reused && !err.responseStarted;
}
