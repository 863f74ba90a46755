/**
 * One try: stream a request to an upstream pool and hand back the response
 * head with its body still unread, or the reason there was no response.
 * Failures are data (a TryOutcome), not throws, so retries and outlier
 * detection can be composed around a try as small wrappers.
 *
 * Streaming: each try reads the request body through its own stream from a
 * ReplayableBody (a failed try's stream is dropped; the client's request
 * stays intact so we can still answer it or replay a small body to the next
 * try). The response is taken straight from the upstream client's handler
 * callbacks (agent/src/http1/client-connection.ts; no Readable, no pipeline,
 * no AbortController: this runs for every request): the try resolves when
 * the head arrives, the first body bytes are held (one socket read at most)
 * until the caller has decided to forward or drop the answer, then the body
 * is written into the client's response with backpressure (the upstream
 * socket pauses while the client's socket is full). A client that goes away aborts the upstream
 * request, an upstream that fails mid-body cuts the client's response.
 */
import type { Readable } from 'node:stream';
import { type Endpoint, ERROR_HEADER } from '@weft/shared';
import type { Http1Pool } from '../http1/client-pool.js';
import { isTlsConnectFailure } from '../http1/errors.js';
import { headerMapOf, isField, type ResponseHead } from '../http1/head-parser.js';
import type { OutgoingHeaders } from '../http1/head-writer.js';
import type { GoneSignal } from './client-link.js';
import type { Deadline } from './deadline.js';
import { downstreamResponseHeaders, downstreamResponseLines, type HeaderMap, type HeadLines } from './headers.js';
import type { ReplayableBody } from './replay-body.js';
import { isStaleConnectionError } from './stale-connection.js';
import { ClientGone, DeadlineExceeded, UpstreamTry } from './upstream-try.js';

/**
 * Why a try produced no response. `aborted` = the client went away (nobody to
 * answer); `unsent` = the connection closed before one byte of the request
 * was written (the app cannot have seen it); `stale` = a reused keep-alive
 * connection the server had just closed as we wrote (the app very probably
 * never read it, see stale-connection.ts).
 */
export type FailureKind = 'connect' | 'unsent' | 'stale' | 'reset' | 'timeout' | 'aborted' | 'invalid';

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
}

/**
 * A response from the upstream client. Most answers are forwarded without
 * anyone reading a header by name, so the map is built only when asked for;
 * until then the raw fields go downstream as received (headers.ts).
 */
class ReceivedResponse implements UpstreamResponse {
  private map: HeaderMap | undefined;

  readonly statusCode: number;
  private readonly raw: string[];
  /** The Connection field as received (names hop-by-hop fields to drop downstream). */
  readonly connection: string | undefined;
  /** The x-weft-error field as received (found by the parser: read on every response). */
  readonly meshError: string | undefined;

  constructor(
    head: ResponseHead,
    readonly body: ResponseBody,
    readonly viaPeer: boolean,
  ) {
    this.statusCode = head.statusCode;
    this.raw = head.rawHeaders;
    this.connection = head.connection;
    this.meshError = head.meshError;
  }

  get headers(): HeaderMap {
    this.map ??= headerMapOf(this.raw);
    return this.map;
  }

  get rawHeaders(): readonly string[] | undefined {
    return this.map === undefined ? this.raw : undefined;
  }
}

function fromApp(head: ResponseHead, body: ResponseBody): TryOutcome & { ok: true } {
  return { ok: true, response: new ReceivedResponse(head, body, false) };
}

function fromPeer(head: ResponseHead, body: ResponseBody): TryOutcome & { ok: true } {
  return { ok: true, response: new ReceivedResponse(head, body, true) };
}

/** One header of a response (`name` lowercase; the first value), without building a received response's map. */
export function responseHeader(response: UpstreamResponse, name: string): string | undefined {
  if (name === ERROR_HEADER && response instanceof ReceivedResponse && response.rawHeaders !== undefined) return response.meshError;
  const raw = response.rawHeaders;
  if (raw === undefined) {
    const v = response.headers[name];
    return Array.isArray(v) ? v[0] : v;
  }
  for (let i = 0; i < raw.length; i += 2) if (isField(raw[i]!, name)) return raw[i + 1];
  return undefined;
}

export type TryOutcome = { ok: true; response: UpstreamResponse } | { ok: false; kind: FailureKind; error: unknown };

/** What one try sends; the outbound side fills it once per request. */
export interface Attempt {
  method: string;
  path: string;
  /** The request's header lines (built once; each try adds its own mesh headers). */
  head: HeadLines;
  /** The request body (each try takes a stream from it), or null for a request without one. */
  body: ReplayableBody | null;
  /** May run twice without harm (retry-policy.ts isIdempotentRequest): decides which failures are retried. */
  idempotent: boolean;
  /** Time allowed for the next try's response head; the retry loop sets it before each try. */
  tryTimeoutMs: number;
  /** How many endpoints the service has (the outlier detector's cap needs it). */
  serviceSize: number;
  deadline: Deadline;
  /** Aborted when the client disconnects. */
  clientGone: GoneSignal;
}

/** One try against one endpoint. */
export type TrySend = (endpoint: Endpoint, attempt: Attempt) => Promise<TryOutcome>;

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Requests that cannot be sent as they are (a header value that would split the head, an upgrade). */
const INVALID_CODES = new Set(['ERR_INVALID_CHAR', 'UND_ERR_NOT_SUPPORTED']);

export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function classify(err: unknown, clientGone: boolean): FailureKind {
  if (clientGone) return 'aborted';
  const code = errorCode(err);
  if (isTlsConnectFailure(err) || (code !== undefined && CONNECT_CODES.has(code))) return 'connect';
  if (isStaleConnectionError(err)) return 'stale';
  if (code !== undefined && INVALID_CODES.has(code)) return 'invalid';
  return 'reset';
}

export { hasBody } from './replay-body.js';

export interface SendOnce {
  method: string;
  path: string;
  head: HeadLines;
  /** Lines for this try only (the mesh control headers for a peer agent). */
  extraLines?: string;
  body: Readable | null;
  /** No response head within this many ms -> `timeout`. */
  timeoutMs: number;
  clientGone: GoneSignal;
  /** The upstream is a peer agent's inbound listener (its x-weft-error may be believed, peer-answer.ts). */
  viaPeer?: boolean;
  /**
   * Called once with the outcome, synchronously, just before the promise
   * resolves with it (the caller's per-try bookkeeping without an extra
   * async layer per try). Must not throw.
   */
  onOutcome?: (outcome: TryOutcome) => void;
}

/** A failed outcome handed out at once (after `onOutcome`, as every outcome). */
export function settledFailure(kind: FailureKind, error: unknown, onOutcome?: (outcome: TryOutcome) => void): Promise<TryOutcome> {
  const outcome: TryOutcome = { ok: false, kind, error };
  onOutcome?.(outcome);
  return Promise.resolve(outcome);
}

/** Sends one request on `pool`; resolves with the response head or the failure. Never rejects. */
export function sendOnce(pool: Http1Pool, r: SendOnce): Promise<TryOutcome> {
  if (r.clientGone.aborted) return settledFailure('aborted', new ClientGone('client gone'), r.onOutcome);
  if (r.timeoutMs <= 0) return settledFailure('timeout', new DeadlineExceeded('deadline exceeded'), r.onOutcome);
  const t = new UpstreamTry(r.clientGone, r.timeoutMs, r.viaPeer ? fromPeer : fromApp, classify, r.onOutcome);
  pool.dispatch({ method: r.method, path: r.path, lines: r.head, extraLines: r.extraLines, body: r.body }, t);
  return t.outcome;
}

/**
 * Streams an upstream response to the client. Returns undefined when the
 * response is already complete (a small answer that arrived with its head:
 * no promise for the usual case), else a promise that resolves when done.
 * Throws / rejects if either side failed mid-body (the client's response is
 * destroyed by then) or the head could not be written (then
 * `res.headersSent` is still false).
 */
export function streamResponse(res: ResponseWriter, response: UpstreamResponse, requestId: string): Promise<void> | undefined {
  try {
    const raw = response.rawHeaders;
    if (raw !== undefined) {
      const connection = response instanceof ReceivedResponse ? response.connection : '';
      res.writeHeadLines(response.statusCode, downstreamResponseLines(raw, requestId, connection));
    } else res.writeHead(response.statusCode, downstreamResponseHeaders(response.headers, requestId));
  } catch (err) {
    // A response head we refuse to repeat (a header value that would split it): nothing was sent yet.
    response.body.destroy();
    throw err;
  }
  let settled = false;
  let failure: Error | undefined;
  let resolve: (() => void) | undefined;
  let reject: ((err: Error) => void) | undefined;
  response.body.pipeTo(res, (err) => {
    settled = true;
    failure = err;
    if (err === undefined) resolve?.();
    else reject?.(err);
  });
  if (settled) {
    if (failure !== undefined) throw failure;
    return undefined;
  }
  return new Promise<void>((res_, rej) => {
    resolve = res_;
    reject = rej;
  });
}

/** Reads and drops a response body we will not forward (a retried answer). */
export function discard(response: UpstreamResponse): void {
  response.body.discard();
}

/** A ResponseBody over a Readable (tests, and answers not read from the upstream client). */
export function readableBody(stream: Readable): ResponseBody {
  return {
    pipeTo(res, done) {
      const resume = (): void => {
        stream.resume();
      };
      stream.on('data', (chunk: Buffer) => {
        if (!res.write(chunk)) {
          stream.pause();
          res.on('drain', resume);
        }
      });
      stream.once('error', (err) => {
        res.off('drain', resume);
        res.destroy();
        done(err);
      });
      stream.once('end', () => {
        res.off('drain', resume);
        res.end();
        done(undefined);
      });
    },
    discard() {
      stream.on('error', () => {});
      stream.resume();
    },
    destroy(err) {
      stream.destroy(err);
    },
    whenClosed(fn) {
      if (stream.closed) fn();
      else stream.once('close', fn);
    },
  };
}
