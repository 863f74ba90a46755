/**
 * One HTTP/2 try: open a stream on the origin's pooled session, send the
 * request (body streamed with backpressure), and hand back the response
 * head with its body and trailers still unread, or why there was none, as
 * a TryOutcome (forward.ts), so the retry loop, the outlier detector and
 * the load tracker work on HTTP/2 tries as on HTTP/1.1 ones.
 *
 * Failure kinds: `connect` = the session could not be established (nothing
 * was sent); `unsent` = the stream was refused (REFUSED_STREAM, or the
 * session was going away before it opened: RFC 9113 §8.7 says the server
 * did not process it); `reset` = the stream or session broke before the
 * response head; `timeout`; `aborted` = the client went away.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { Writable } from 'node:stream';
import { ANSWERED_BY_HEADER, ERROR_HEADER, MeshErrorCode, meshHttpStatus } from '@weft/shared';
import type { H2Connection } from '@weft/shared/http2-codec/connection';
import { H2Error } from '@weft/shared/http2-codec/frames';
import type { H2ClientStream } from '@weft/shared/http2-codec/stream';
import type { ClientTls } from '../http1/client-connection.js';
import { H2ConnectFailedError, type H2SessionPool } from '../http2/session-pool.js';
import type { GoneSignal } from './client-link.js';
import {
  type FailureKind,
  type ResponseBody,
  type ResponseSink,
  readableBody,
  settledFailure,
  type TryOutcome,
  type UpstreamResponse,
} from './forward.js';
import type { HeaderMap } from './headers.js';
import { ClientGone, DeadlineExceeded } from './upstream-try.js';

const { CANCEL: NGHTTP2_CANCEL, REFUSED_STREAM: NGHTTP2_REFUSED_STREAM } = H2Error;
const END_STREAM_FLAG = 0x1;

/** A response head received on an HTTP/2 stream; the body and trailers are read from `stream` (it is its own ResponseBody). */
export class H2Response implements UpstreamResponse, ResponseBody {
  /** The HTTP status, or for a peer agent's own (believed) answer, the HTTP status of its code: see below. */
  readonly statusCode: number;
  /** Trailers, once they arrived (listened for from the start: they may come in the same read as the head). */
  trailers: IncomingHttpHeaders | undefined;
  /** The head's fields (node's map; values are never undefined in what node hands out). */
  readonly headers: HeaderMap;
  readonly body: ResponseBody = this;

  constructor(
    headers: IncomingHttpHeaders,
    readonly stream: H2ClientStream,
    /** The head ended the stream (a trailers-only gRPC answer, or an answer without body). */
    readonly endStream: boolean,
    readonly viaPeer: boolean,
  ) {
    this.headers = headers as HeaderMap;
    const status = Number(headers[':status'] ?? 0);
    // A peer agent's own gRPC answer is trailers-only with :status 200; the retry and outlier
    // rules read statuses, so such an answer counts as the HTTP status of its x-weft-error code.
    const code = headers[ERROR_HEADER];
    this.statusCode =
      viaPeer && status === 200 && typeof code === 'string' && headers[ANSWERED_BY_HEADER] !== undefined && isMeshCode(code)
        ? meshHttpStatus(code)
        : status;
    if (!endStream) stream.once('trailers', this.onTrailers);
  }

  private readonly onTrailers = (t: IncomingHttpHeaders): void => {
    this.trailers = t;
  };

  /** Not used by the HTTP/2 pipeline (h2-answer.ts streams the body and trailers); here for ResponseBody's callers. */
  pipeTo(res: ResponseSink, done: (err: Error | undefined) => void): void {
    readableBody(this.stream).pipeTo(res, done);
  }

  discard(): void {
    if (!this.stream.closed) this.stream.close(NGHTTP2_CANCEL);
  }

  destroy(): void {
    if (!this.stream.closed) this.stream.close(NGHTTP2_CANCEL);
  }

  whenClosed(fn: () => void): void {
    if (this.stream.closed || this.stream.destroyed) fn();
    else this.stream.once('close', fn);
  }
}

const MESH_CODES = new Set<string>(Object.values(MeshErrorCode));
function isMeshCode(code: string): code is MeshErrorCode {
  return MESH_CODES.has(code);
}

/** A request body a try attaches to its stream (h2-body.ts; an HTTP/1.1 body in translate-h1-to-h2.ts). */
export interface H2BodySource {
  /** Streams the body into `sink` (the try's stream); false when it can no longer be replayed. */
  attach(sink: Writable): boolean;
}

export interface H2SendOnce {
  pool: H2SessionPool;
  /** Pool key (host:port), host and port of the origin. */
  key: string;
  host: string;
  port: number;
  /** mTLS to a peer agent (mesh-tls.ts); absent: h2c. */
  tls?: ClientTls;
  headers: OutgoingHttpHeaders;
  /** The request body: attached to the new stream (false = it can no longer be replayed), or null for none. */
  body: H2BodySource | null;
  /** No response head within this many ms -> `timeout`. */
  timeoutMs: number;
  clientGone: GoneSignal;
  viaPeer: boolean;
  onOutcome?: (outcome: TryOutcome) => void;
}

/** Sends one request; resolves with the response head or the failure. Never rejects. */
export async function sendH2Once(r: H2SendOnce): Promise<TryOutcome> {
  if (r.clientGone.aborted) return settledFailure('aborted', new ClientGone('client gone'), r.onOutcome);
  if (r.timeoutMs <= 0) return settledFailure('timeout', new DeadlineExceeded('deadline exceeded'), r.onOutcome);
  let session: H2Connection;
  try {
    const s = r.pool.get(r.key, r.host, r.port, r.tls);
    session = s instanceof Promise ? await s : s;
  } catch (err) {
    return settledFailure(err instanceof H2ConnectFailedError ? 'connect' : 'reset', err, r.onOutcome);
  }
  if (r.clientGone.aborted) return settledFailure('aborted', new ClientGone('client gone'), r.onOutcome);
  let up: H2ClientStream;
  try {
    up = session.request(r.headers, { endStream: r.body === null });
  } catch (err) {
    // The session closed or is going away: the stream never opened.
    return settledFailure('unsent', err, r.onOutcome);
  }
  // Errors after the outcome (a reset mid-body) are seen by whoever streams the body; never an unhandled 'error'.
  up.on('error', ignore);
  const t = new H2Try(up, r);
  if (r.body !== null && !r.body.attach(up)) t.fail('aborted', new Error('request body can no longer be replayed'));
  return t.outcome;
}

function ignore(): void {}

/** One try's wait for its response head: the outcome once, then its listeners are gone (this runs for every call). */
class H2Try {
  readonly outcome: Promise<TryOutcome>;
  private resolve!: (o: TryOutcome) => void;
  private settled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly up: H2ClientStream,
    private readonly r: H2SendOnce,
  ) {
    this.outcome = new Promise<TryOutcome>((resolve) => {
      this.resolve = resolve;
    });
    this.timer = setTimeout(this.onTimeout, r.timeoutMs);
    r.clientGone.addEventListener('abort', this.onGone);
    up.once('response', this.onResponse);
    up.once('error', this.onError);
    up.once('close', this.onClose);
  }

  fail(kind: FailureKind, error: unknown): void {
    if (this.settled) return;
    if (!this.up.closed) this.up.close(NGHTTP2_CANCEL);
    this.finish({ ok: false, kind, error });
  }

  private finish(o: TryOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.r.clientGone.removeEventListener('abort', this.onGone);
    this.up.off('response', this.onResponse);
    this.up.off('error', this.onError);
    this.up.off('close', this.onClose);
    this.r.onOutcome?.(o);
    this.resolve(o);
  }

  private readonly onTimeout = (): void => {
    this.fail('timeout', new DeadlineExceeded(`no response within ${this.r.timeoutMs} ms`));
  };

  private readonly onGone = (): void => {
    this.fail('aborted', new ClientGone('client gone'));
  };

  // The END_STREAM flag of the head (a trailers-only answer); node's `endAfterHeaders` is not set on client streams.
  private readonly onResponse = (headers: IncomingHttpHeaders, flags: number): void => {
    this.finish({ ok: true, response: new H2Response(headers, this.up, (flags & END_STREAM_FLAG) !== 0, this.r.viaPeer) });
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    const refused = this.up.rstCode === NGHTTP2_REFUSED_STREAM || err.code === 'ERR_HTTP2_GOAWAY_SESSION';
    this.finish({ ok: false, kind: refused ? 'unsent' : 'reset', error: err });
  };

  private readonly onClose = (): void => {
    if (this.settled) return;
    const code = this.up.rstCode;
    this.finish({
      ok: false,
      kind: code === NGHTTP2_REFUSED_STREAM ? 'unsent' : 'reset',
      error: new Error(`stream closed before a response (RST_STREAM code ${code})`),
    });
  };
}
