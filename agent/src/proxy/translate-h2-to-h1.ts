/**
 * An HTTP/2 request (not gRPC) handed to an HTTP/1.1 instance, by the agent
 * that owns the instance (outbound for a local one, inbound for a peer's
 * call): the request goes out on the instance's HTTP/1.1 pool and its answer
 * comes back on the client's HTTP/2 stream.
 *
 * Request: `:method` and `:path` make the request line, `:authority` the
 * Host field (RFC 9113 §8.3.1); every other field passes through the same
 * HTTP/1.1 forwarding rules as any request (headers.ts upstreamRequestLines:
 * x-forwarded-*, request id, traceparent). The body is streamed (with its
 * content-length when the client sent one, else chunked). HTTP/2 request
 * trailers are dropped (RFC 9110 §6.5.1 lets a recipient discard them; no
 * HTTP/1.1 app we forward to reads them).
 *
 * Answer: the status and fields of the HTTP/1.1 answer, minus its
 * connection-specific fields (Connection and the fields it names,
 * Keep-Alive, Transfer-Encoding, Upgrade: RFC 9113 §8.2.2 forbids them),
 * then the body with backpressure (the upstream socket is paused while the
 * client's stream is full). An HTTP/1.1 answer has no trailers to carry.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { MeshErrorCode, messageOf } from '@weft/shared';
import { H2Error } from '@weft/shared/http2-codec/frames';
import type { H2ServerStream } from '@weft/shared/http2-codec/stream';
import type { Http1Pool } from '../http1/client-pool.js';
import { type Attempt, sendOnce, type TryOutcome, type UpstreamResponse } from './forward.js';
import type { H2ReplayBody } from './h2-body.js';
import { downstreamResponseHeaders, type ForwardingContext, type HeadLines, upstreamRequestLines } from './headers.js';

/** The HTTP/1.1 head lines of an HTTP/2 request's fields (pseudo-fields left out: they make the request line and Host). */
export function h1HeadOfH2(incoming: IncomingHttpHeaders, ctx: ForwardingContext): HeadLines {
  const raw: string[] = [];
  for (const name of Object.keys(incoming)) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    const value = incoming[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) raw.push(name, v);
    else raw.push(name, value);
  }
  return upstreamRequestLines(raw, ctx);
}

export interface H2AsH1Try {
  method: string;
  path: string;
  head: HeadLines;
  body: H2ReplayBody | null;
  timeoutMs: number;
  clientGone: Attempt['clientGone'];
  onOutcome?: (outcome: TryOutcome) => void;
}

/** One try of an HTTP/2 request on an HTTP/1.1 instance's pool; a body that can no longer be replayed fails it as `aborted`. */
export function sendH2AsH1(pool: Http1Pool, t: H2AsH1Try): Promise<TryOutcome> {
  const body = t.body === null ? null : t.body.nextStream();
  if (body === undefined) {
    const outcome: TryOutcome = { ok: false, kind: 'aborted', error: new Error('request body can no longer be replayed') };
    t.onOutcome?.(outcome);
    return Promise.resolve(outcome);
  }
  return sendOnce(pool, {
    method: t.method,
    path: t.path,
    head: t.head,
    body,
    timeoutMs: t.timeoutMs,
    clientGone: t.clientGone,
    onOutcome: t.onOutcome,
  });
}

const CLIENT_GONE = 'client_gone';

export interface H1AnswerOptions {
  requestId: string;
  /** Fields added to the answer (x-weft-rule). */
  extra: Record<string, string> | undefined;
  /** The code of a normal end ('' for the app's own answer). */
  okCode: string;
  target: string;
  /** Body bytes written to the client, once done. */
  onBytes: (n: number) => void;
  onFailure: (code: MeshErrorCode, detail: string) => void;
}

/**
 * Streams an HTTP/1.1 answer onto the client's HTTP/2 stream; resolves with
 * the metrics code ('' / okCode, client_gone, or upstream_reset when the
 * upstream broke mid-body: the client's stream is then reset with
 * INTERNAL_ERROR, so it cannot take a cut body for a whole one).
 */
export function streamH1AnswerOnH2(stream: H2ServerStream, response: UpstreamResponse, o: H1AnswerOptions): Promise<string> {
  if (stream.destroyed || stream.closed) {
    response.body.destroy();
    return Promise.resolve(CLIENT_GONE);
  }
  const head: OutgoingHttpHeaders = { ':status': response.statusCode };
  Object.assign(head, downstreamResponseHeaders(response.headers, o.requestId));
  if (o.extra !== undefined) Object.assign(head, o.extra);
  try {
    stream.respond(head);
  } catch (err) {
    response.body.destroy();
    o.onFailure(MeshErrorCode.upstreamProtocolError, `${o.target}: response head cannot be forwarded over HTTP/2 (${messageOf(err)})`);
    if (!stream.closed) stream.close(H2Error.INTERNAL_ERROR);
    return Promise.resolve(MeshErrorCode.upstreamProtocolError);
  }
  return new Promise<string>((resolve) => {
    let bytes = 0;
    let gone = false;
    const onClose = (): void => {
      if (stream.writableFinished) return;
      gone = true;
      response.body.destroy();
    };
    stream.once('close', onClose);
    const sink = {
      write: (chunk: Buffer): boolean => {
        bytes += chunk.length;
        return stream.write(chunk);
      },
      end: (chunk?: Buffer): void => {
        if (chunk !== undefined) bytes += chunk.length;
        stream.end(chunk);
      },
      destroy: (): void => {
        if (!stream.closed) stream.close(H2Error.INTERNAL_ERROR);
      },
      on: (event: 'drain', fn: () => void) => stream.on(event, fn),
      off: (event: 'drain', fn: () => void) => stream.off(event, fn),
    };
    response.body.pipeTo(sink, (err) => {
      stream.off('close', onClose);
      o.onBytes(bytes);
      if (gone) resolve(CLIENT_GONE);
      else if (err === undefined) resolve(o.okCode);
      else {
        o.onFailure(MeshErrorCode.upstreamReset, `${o.target}: HTTP/1.1 answer ended early (${messageOf(err)})`);
        sink.destroy();
        resolve(MeshErrorCode.upstreamReset);
      }
    });
  });
}
