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
import {
  ConnectFailedError,
  isTlsConnectFailure,
  RequestNotSendableError,
  UnexpectedUpgradeError,
  UpstreamProtocolError,
} from '../http1/errors.js';
import { headerMapOf, isField, type ResponseHead } from '../http1/head-parser.js';
import type { SocketTunnel } from '../http1/socket-tunnel.js';
import type { GoneSignal } from './client-link.js';
import type { Deadline } from './deadline.js';
import { downstreamResponseHeaders, downstreamResponseLines, type HeaderMap, type HeadLines } from './headers.js';
import { isKeepAliveRace, neverSent } from './stale-connection.js';
import type { FailureKind, ResponseBody, ResponseWriter, TryOutcome, UpstreamResponse } from './try-outcome.js';
import { ClientGone, DeadlineExceeded, UpstreamTry } from './upstream-try.js';

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
  /** The x-weft-error field as received (the pool's noteField: read on every response). */
  readonly meshError: string | undefined;

  constructor(
    head: ResponseHead,
    readonly body: ResponseBody,
    readonly viaPeer: boolean,
    readonly tunnel?: SocketTunnel,
  ) {
    this.statusCode = head.statusCode;
    this.raw = head.rawHeaders;
    this.connection = head.connection;
    this.meshError = head.noted;
  }

  get headers(): HeaderMap {
    this.map ??= headerMapOf(this.raw);
    return this.map;
  }

  get rawHeaders(): readonly string[] | undefined {
    return this.map === undefined ? this.raw : undefined;
  }
}

function fromApp(head: ResponseHead, body: ResponseBody, tunnel?: SocketTunnel): TryOutcome & { ok: true } {
  return { ok: true, response: new ReceivedResponse(head, body, false, tunnel) };
}

function fromPeer(head: ResponseHead, body: ResponseBody, tunnel?: SocketTunnel): TryOutcome & { ok: true } {
  return { ok: true, response: new ReceivedResponse(head, body, true, tunnel) };
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

/** A request body each try reads through its own stream (replay-body.ts for HTTP/1.1, h2-body.ts for HTTP/2). */
export interface ReplaySource {
  /** True while a later try could still get the whole body. */
  readonly replayable: boolean;
  /** The stream for the next try; undefined when the body cannot be replayed. */
  nextStream(): Readable | undefined;
}

/** What one try sends; the outbound side fills it once per request. */
export interface Attempt {
  method: string;
  path: string;
  /** The request's header lines (built once; each try adds its own mesh headers). */
  head: HeadLines;
  /** The request body (each try takes a stream from it), or null for a request without one. */
  body: ReplaySource | null;
  /** May run twice without harm (retry-policy.ts isIdempotentRequest): decides which failures are retried. */
  idempotent: boolean;
  /** Time allowed for the next try's response head; the retry loop sets it before each try. */
  tryTimeoutMs: number;
  /** The next try's time is the per-try timeout (a retry could follow), not all that is left of the deadline. */
  perTryCapped: boolean;
  /** How many endpoints the service has (the outlier detector's cap needs it). */
  serviceSize: number;
  deadline: Deadline;
  /** Aborted when the client disconnects. */
  clientGone: GoneSignal;
  /**
   * The local service the request is sent for (the app's proxy credential,
   * Exchange.source): on the mesh hop the agent presents that service's
   * certificate. Undefined: the agent's own.
   */
  sourceService?: string;
}

/** One try against one endpoint. */
export type TrySend = (endpoint: Endpoint, attempt: Attempt) => Promise<TryOutcome>;

export function errorCode(err: unknown): string | undefined {
  if (err instanceof ConnectFailedError) return err.syscallCode;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function classify(err: unknown, clientGone: boolean): FailureKind {
  if (clientGone) return 'aborted';
  // A TLS failure before the response (handshake refused, not the peer we meant): the app never saw the request.
  if (err instanceof ConnectFailedError || isTlsConnectFailure(err)) return 'connect';
  if (neverSent(err)) return 'unsent';
  if (isKeepAliveRace(err)) return 'stale';
  if (err instanceof UpstreamProtocolError) return 'protocol';
  if (err instanceof UnexpectedUpgradeError) return 'upgrade';
  if (err instanceof RequestNotSendableError) return 'invalid';
  return 'reset';
}

export { hasBody } from './replay-body.js';
export type { FailureKind, ResponseBody, ResponseSink, ResponseWriter, TryOutcome, UpstreamResponse } from './try-outcome.js';

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
  // A body that already broke framing before anything was written (bytes past its end in the head's read): nothing is sent.
  const early = response.body.failedEarly?.();
  if (early !== undefined) {
    response.body.destroy();
    throw early;
  }
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
