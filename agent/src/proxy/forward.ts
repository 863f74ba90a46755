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
import type { ClientHandler } from '../http1/client-connection.js';
import type { Http1Pool } from '../http1/client-pool.js';
import { ConnectFailedError, ConnectionClosedError, RequestNotSendableError, UnexpectedUpgradeError } from '../http1/errors.js';
import { headerMapOf, isField, type ResponseHead } from '../http1/head-parser.js';
import type { OutgoingHeaders } from '../http1/head-writer.js';
import type { GoneSignal } from './client-link.js';
import type { Deadline } from './deadline.js';
import { downstreamResponseHeaders, downstreamResponseLines, type HeaderMap, type HeadLines } from './headers.js';
import type { ReplayableBody } from './replay-body.js';

/**
 * Why a try produced no response. `aborted` = the client went away (nobody to
 * answer); `stale` = a reused keep-alive connection the server had just closed
 * (the app never saw the request, see stale-connection.ts).
 */
export type FailureKind = 'connect' | 'stale' | 'reset' | 'timeout' | 'aborted' | 'invalid';

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
  /** The x-weft-error field as received (the pool's noteField: read on every response). */
  readonly meshError: string | undefined;

  constructor(
    head: ResponseHead,
    readonly body: ResponseBody,
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

export function errorCode(err: unknown): string | undefined {
  if (err instanceof ConnectFailedError) return err.syscallCode;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function classify(err: unknown, timedOut: boolean, clientGone: boolean): FailureKind {
  if (timedOut) return 'timeout';
  if (clientGone) return 'aborted';
  if (err instanceof ConnectFailedError) return 'connect';
  // The keep-alive race: a reused connection closed before any byte of the answer.
  if (err instanceof ConnectionClosedError && err.reused && !err.responseStarted) return 'stale';
  if (err instanceof RequestNotSendableError || err instanceof UnexpectedUpgradeError) return 'invalid';
  return 'reset';
}

class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}

class ClientGone extends Error {
  override name = 'ClientGone';
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
  const t = new Try(r.clientGone, r.timeoutMs, r.onOutcome);
  pool.dispatch({ method: r.method, path: r.path, lines: r.head, extraLines: r.extraLines, body: r.body }, t);
  return t.outcome;
}

/** Bytes of response body held before the caller decided what to do with it; beyond that the upstream socket pauses. */
const HOLD_BYTES = 64 * 1024;

/**
 * One try as the upstream client's handler and, once the head arrived, the
 * response's ResponseBody.
 * The client-gone link stays until the body is done, so a client that
 * leaves mid-download aborts the upstream transfer too.
 */
class Try implements ClientHandler, ResponseBody {
  readonly outcome: Promise<TryOutcome>;
  private resolve!: (o: TryOutcome) => void;
  /** The outcome was handed out (a head, or a failure). */
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  private timedOut = false;
  /** The client's abort for this request, once it is on a connection. */
  private abortFn: ((err?: Error) => void) | undefined;
  /** An abort asked for before the client gave us abortFn. */
  private pendingAbort: Error | undefined;
  /** The client's resume after onData returned false. */
  private resumeFn: (() => void) | undefined;
  private upstreamPaused = false;
  // The body, after the head:
  private sink: ResponseSink | null = null;
  private done: ((err: Error | undefined) => void) | undefined;
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  private complete = false;
  private failed: Error | undefined;
  private discarding = false;
  private closed = false;
  private drainHooked = false;
  private closeFn: (() => void) | undefined;

  constructor(
    private readonly gone: GoneSignal,
    timeoutMs: number,
    private readonly onOutcome: ((outcome: TryOutcome) => void) | undefined,
  ) {
    this.outcome = new Promise<TryOutcome>((resolve) => {
      this.resolve = resolve;
    });
    this.timer = setTimeout(this.onTimeout, timeoutMs);
    gone.addEventListener('abort', this.onGone, { once: true });
  }

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    this.timedOut = true;
    this.cancel(new DeadlineExceeded('no response head in time'), 'timeout');
  };

  private readonly onGone = (): void => {
    this.cancel(new ClientGone('client gone'), 'aborted');
  };

  /** Aborts the upstream request; before the head, the try fails at once with `kind` (without waiting for a connection). */
  private cancel(err: Error, kind: FailureKind): void {
    if (this.abortFn !== undefined) this.abortFn(err);
    else this.pendingAbort ??= err;
    if (!this.settled) this.fail(kind, err);
  }

  private fail(kind: FailureKind, error: unknown): void {
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.gone.removeEventListener('abort', this.onGone);
    this.closed = true;
    this.settle({ ok: false, kind, error });
  }

  /** Hands out the outcome: the caller's hook first (synchronously), then the promise. */
  private settle(outcome: TryOutcome): void {
    this.onOutcome?.(outcome);
    this.resolve(outcome);
  }

  // --- the upstream client's side ---

  onConnect(abort: (err?: Error) => void): void {
    if (this.pendingAbort !== undefined) abort(this.pendingAbort);
    else this.abortFn = abort;
  }

  onHeaders(head: ResponseHead, resume: () => void): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.resumeFn = resume;
    this.settle({ ok: true, response: new ReceivedResponse(head, this) });
    return true;
  }

  onData(chunk: Buffer): boolean {
    const sink = this.sink;
    if (sink !== null) {
      if (sink.write(chunk)) return true;
      this.pauseUntilDrain(sink);
      return false;
    }
    if (this.discarding || this.closed) return true;
    if (this.held === null) this.held = [chunk];
    else this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes < HOLD_BYTES) return true;
    this.upstreamPaused = true;
    return false;
  }

  onComplete(): void {
    this.complete = true;
    const sink = this.sink;
    if (sink !== null) {
      sink.end();
      this.finish(undefined);
    } else if (this.discarding) this.finish(undefined);
  }

  onError(err: Error): void {
    if (!this.settled) {
      this.fail(classify(err, this.timedOut, this.gone.aborted), err);
      return;
    }
    if (this.closed) return;
    this.failed = err;
    const sink = this.sink;
    if (sink !== null) {
      sink.destroy();
      this.finish(err);
    } else if (this.discarding) this.finish(undefined);
  }

  // --- the caller's side (ResponseBody) ---

  pipeTo(res: ResponseSink, done: (err: Error | undefined) => void): void {
    this.sink = res;
    this.done = done;
    const held = this.held;
    this.held = null;
    if (this.failed !== undefined) {
      res.destroy();
      this.finish(this.failed);
      return;
    }
    if (this.complete) {
      // The usual small answer: head and body leave in one write.
      if (held === null) res.end();
      else if (held.length === 1) res.end(held[0]);
      else {
        for (const chunk of held) res.write(chunk);
        res.end();
      }
      this.finish(undefined);
      return;
    }
    let full = false;
    if (held !== null) for (const chunk of held) full = !res.write(chunk);
    if (full) this.pauseUntilDrain(res);
    else this.resumeUpstream();
  }

  discard(): void {
    this.discarding = true;
    this.held = null;
    if (this.complete || this.failed !== undefined) this.finish(undefined);
    else this.resumeUpstream();
  }

  destroy(err?: Error): void {
    this.discarding = true;
    this.held = null;
    if (this.complete || this.failed !== undefined) {
      this.finish(undefined);
      return;
    }
    this.abortFn?.(err ?? new Error('response body dropped'));
    this.finish(undefined);
  }

  whenClosed(fn: () => void): void {
    if (this.closed) {
      fn();
      return;
    }
    const prev = this.closeFn;
    this.closeFn =
      prev === undefined
        ? fn
        : () => {
            prev();
            fn();
          };
  }

  private pauseUntilDrain(sink: ResponseSink): void {
    this.upstreamPaused = true;
    if (!this.drainHooked) {
      this.drainHooked = true;
      sink.on('drain', this.onDrain);
    }
  }

  private readonly onDrain = (): void => {
    if (!this.closed) this.resumeUpstream();
  };

  private resumeUpstream(): void {
    if (!this.upstreamPaused) return;
    this.upstreamPaused = false;
    this.resumeFn?.();
  }

  private finish(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.gone.removeEventListener('abort', this.onGone);
    if (this.drainHooked) this.sink?.off('drain', this.onDrain);
    const closeFn = this.closeFn;
    this.closeFn = undefined;
    closeFn?.();
    const done = this.done;
    this.done = undefined;
    done?.(err);
  }
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
