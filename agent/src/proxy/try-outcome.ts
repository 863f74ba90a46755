/**
 * What one try hands back (forward.ts sends it, upstream-try.ts runs it):
 * the response head with its body still unread, or why there was none.
 * Failures are data, not throws.
 */
import type { OutgoingHeaders } from '../http1/head-writer.js';
import type { SocketTunnel } from '../http1/socket-tunnel.js';
import type { HeaderMap, HeadLines } from './headers.js';

/**
 * Why a try produced no response. `aborted` = the client went away (nobody to
 * answer); `unsent` = the connection closed before one byte of the request
 * was written (the app cannot have seen it); `stale` = a reused keep-alive
 * connection the server had just closed as we wrote (the app very probably
 * never read it, see stale-connection.ts); `protocol` = the upstream's answer
 * broke HTTP/1.1 framing (its connection is closed, never reused);
 * `upgrade` = it switched protocols to a request that did not ask to;
 * `refused` = the access check of a local instance refused the request
 * before it was sent (access-gate.ts).
 */
export type FailureKind = 'connect' | 'unsent' | 'stale' | 'reset' | 'timeout' | 'aborted' | 'invalid' | 'protocol' | 'upgrade' | 'refused';

/** Where a response body is written (an Http1Response; node's ServerResponse fits too). */
export interface ResponseSink {
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): void;
  destroy(): void;
  on(event: 'drain', fn: () => void): unknown;
  off(event: 'drain', fn: () => void): unknown;
}

/** A client response: a sink with a head to write first. */
export interface ResponseWriter extends ResponseSink {
  readonly headersSent: boolean;
  writeHead(statusCode: number, headers: OutgoingHeaders): unknown;
  /** The head from header lines already written out (a received response forwarded as it came). */
  writeHeadLines(statusCode: number, head: HeadLines): unknown;
}

/**
 * The unread body of an upstream response. Whoever holds the response calls
 * exactly one of pipeTo / discard / destroy.
 */
export interface ResponseBody {
  /** Streams the body into `res` (its head already written); `done` is called once, with the error if either side failed. */
  pipeTo(res: ResponseSink, done: (err: Error | undefined) => void): void;
  /** Reads and drops the body (a retried answer), keeping the connection reusable. */
  discard(): void;
  /** Aborts the upstream transfer. */
  destroy(err?: Error): void;
  /** Calls `fn` once the body is finished, failed or dropped (at once when it already is). */
  whenClosed(fn: () => void): void;
  /** The body's error when it failed before the caller decided what to do with it (then nothing may be forwarded). */
  failedEarly?(): Error | undefined;
}

export interface UpstreamResponse {
  statusCode: number;
  /** The head as a node-style map (for a received response, built on first use). */
  readonly headers: HeaderMap;
  body: ResponseBody;
  /** The received fields while `headers` was never built (so nothing was edited): forwarded as they are. */
  readonly rawHeaders?: readonly string[] | undefined;
  /** The answer came from a peer agent's inbound listener (its own answer, or an app's relayed), not straight from an app. */
  readonly viaPeer?: boolean;
  /** A 101 to a request that asked to upgrade: the upstream connection, now carrying the new protocol's bytes. */
  readonly tunnel?: SocketTunnel | undefined;
}

export type TryOutcome = { ok: true; response: UpstreamResponse } | { ok: false; kind: FailureKind; error: unknown };
