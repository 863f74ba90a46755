/**
 * HTTP/2 and gRPC (h2c on the listeners' ports, h2 over the mesh's mTLS) on
 * the one request pipeline (pipeline.ts), over node:http2 streams: per
 * stream it reads the request id, the budget and a gRPC call's deadline
 * into an H2Exchange, and says how this protocol answers: the mesh's own
 * answers through the direction's H2Rescue (grpc-rescue.ts: a gRPC status in
 * trailers on a gRPC call), the policy's, an upstream's HTTP/2 answer
 * streamed back (h2-answer.ts) or an HTTP/1.1 instance's translated
 * (translate-h2-to-h1.ts). The direction's H2Strategy
 * (h2-outbound-strategy.ts, h2-inbound-strategy.ts) finds the upstream and
 * tries it. A throw (a bug) is logged and answered `internal` here (no
 * listener below a stream would answer it).
 *
 * Deadlines. The mesh's budget (x-weft-timeout-ms, else the listener's
 * default, a rule's timeout) bounds the time to the response head, as for
 * HTTP/1.1. A gRPC call's own deadline (`grpc-timeout`) bounds the whole
 * call: it also caps the time to the head, and goes upstream reduced by the
 * time spent. On a gRPC call the outbound agent also holds the whole call
 * to a deadline the app or the operator set explicitly (x-weft-timeout-ms
 * from the app, a rule's `timeout`): gRPC servers often send their response
 * head at once, so a head-only limit would not limit anything; this one is
 * the mesh's own and is not written into grpc-timeout (as Envoy's route
 * timeout), so the mesh, not the app, answers when it passes. The
 * listener's default budget stays head-only, so long-lived streams are not
 * cut by it. When a call deadline passes mid-response the call ends with
 * trailers grpc-status DEADLINE_EXCEEDED and x-weft-error upstream_timeout,
 * and the upstream stream is cancelled.
 *
 * Cancellation. A client that resets its stream (or goes away) cancels the
 * try in flight or the upstream stream (RST_STREAM CANCEL), hop by hop to
 * the app. An upstream that resets mid-response: a gRPC call ends with
 * trailers UNAVAILABLE / upstream_reset (CANCEL is passed on as CANCEL),
 * other streams are reset.
 *
 * Flow control. The upstream's body is read only while the client's stream
 * accepts writes (paused once it holds STREAM_WRITE_BUFFER bytes,
 * http2/h2-settings.ts; resumed on 'drain'), so a slow
 * reader holds back the upstream through HTTP/2 windows instead of making
 * the agent buffer; the request body likewise (h2-body.ts).
 */
import type { IncomingHttpHeaders } from 'node:http2';
import { type Logger, MeshError, MeshErrorCode, messageOf, REQUEST_ID_HEADER, type SourceIdentity } from '@weft/shared';
import { H2Error } from '@weft/shared/http2-codec/frames';
import type { H2ServerStream } from '@weft/shared/http2-codec/stream';
import type { StreamHandler } from '../http2/h2c-server.js';
import { ClientLink } from './client-link.js';
import { Deadline, requestBudgetMs } from './deadline.js';
import { type MeshFailure, meshFailure } from './forward-strategy.js';
import { type H2Rescue, sendH2PolicyAnswer } from './grpc-rescue.js';
import { GRPC_TIMEOUT_HEADER, isGrpcContentType, parseGrpcTimeout } from './grpc-status.js';
import { H2AnswerStream } from './h2-answer.js';
import type { H2Response } from './h2-forward.js';
import { h2DownstreamResponseHeaders } from './h2-headers.js';
import { requestIdOf, TIMEOUT_HEADER, TRACEPARENT_HEADER } from './headers.js';
import { CLIENT_GONE, type ExchangeProtocol, type Fail, type PipelineExchange, type PipelineOptions, pipeline } from './pipeline.js';
import type { ServiceMetrics } from './proxy-metrics.js';
import type { RequestLog } from './request-log.js';
import type { PolicyAnswer } from './route-policy.js';
import { streamH1AnswerOnH2 } from './translate-h2-to-h1.js';
import type { UpstreamResponse } from './try-outcome.js';

/** One HTTP/2 request as it moves through the pipeline; the strategy fills in what it learns. */
export interface H2Exchange extends PipelineExchange {
  readonly stream: H2ServerStream;
  readonly headers: IncomingHttpHeaders;
  /** A gRPC call (content-type application/grpc...): answered in gRPC's terms. */
  readonly grpc: boolean;
  readonly requestId: string;
  /** Time allowed until the response head (mesh budget, capped by the gRPC deadline). */
  readonly budgetMs: number;
  /** The gRPC call's own deadline (grpc-timeout), covering the whole call, passed on; undefined without one. */
  readonly callDeadline: Deadline | undefined;
  /** The mesh's deadline for the whole gRPC call (outbound: x-weft-timeout-ms, a rule's timeout), enforced here and not passed on. */
  meshCallDeadline: Deadline | undefined;
  readonly clientGone: ClientLink;
  readonly clientAddress: string | undefined;
  /** Fields added to the answer whatever it is (x-weft-rule). */
  answerFields: Record<string, string> | undefined;
  /** The request body reader, once the strategy made one (its byte count goes to the access log). */
  requestBody: { readonly bytesReceived: number } | undefined;
  /** Body bytes of the forwarded answer written to the client (the access log's bytesOut). */
  bytesOut: number;
  /**
   * Who is calling, as the strategy established it (never from a header the caller sets): outbound, the
   * local app's proxy credential (proxy-auth.ts); inbound, the peer's verified certificate. Undefined: unattributed.
   */
  source: SourceIdentity | undefined;
}

export type H2Verdict =
  | MeshFailure
  | { kind: 'forwarded'; response: H2Response; target: string; meshCode: string }
  /** An HTTP/1.1 instance's answer to a translated request (translate-h2-to-h1.ts). */
  | { kind: 'translated'; response: UpstreamResponse; target: string; meshCode: string }
  | { kind: 'policy'; answer: PolicyAnswer }
  | { kind: 'gone' };

export interface H2Strategy {
  /** Finds the upstream and tries it; never writes to the stream, never throws for what the network or caller can cause. */
  forward(ex: H2Exchange): Promise<H2Verdict>;
}

export interface H2PipelineOptions {
  strategy: H2Strategy;
  rescue: H2Rescue;
  requestLog: RequestLog;
  logger: Logger;
  unresolved: ServiceMetrics;
  requestTimeoutMs: number;
  accessLog?: PipelineOptions<H2Exchange, H2Verdict>['accessLog'];
}

/** How HTTP/2 streams are answered and accounted. */
function h2Protocol(rescue: H2Rescue, requestLog: RequestLog, logger: Logger): ExchangeProtocol<H2Exchange, H2Verdict> {
  return {
    rescue: (ex, code, message) => rescue(ex.stream, ex.grpc, code, message, ex.requestId),
    policy: (ex, answer) => sendH2PolicyAnswer(ex.stream, ex.grpc, answer, ex.requestId),
    answer(ex, verdict, fail) {
      if (verdict.kind === 'forwarded') return streamAnswer(ex, verdict.response, verdict.meshCode, verdict.target, fail, requestLog);
      return streamH1AnswerOnH2(ex.stream, verdict.response, {
        requestId: ex.requestId,
        extra: ex.answerFields,
        okCode: verdict.meshCode,
        target: verdict.target,
        onBytes: (n) => {
          ex.bytesOut = n;
        },
        onFailure: (code, detail) => requestLog.log('response stream ended early', code, { ...ex.fields, requestId: ex.requestId, detail }),
      });
    },
    traceparentOf: (log, ex) => log.traceparentOfField(ex.headers[TRACEPARENT_HEADER]),
    status: (ex) => (ex.stream.headersSent ? Number(ex.stream.sentHeaders?.[':status'] ?? 200) : 0),
    bytesIn: (ex) => ex.requestBody?.bytesReceived ?? 0,
    bytesOut: (ex) => ex.bytesOut,
    record(log, direction, ex, code, startedAt) {
      const sent = ex.stream.headersSent ? ex.stream.sentHeaders : undefined;
      log.record(
        direction,
        ex,
        {
          clientAddress: ex.clientAddress,
          method: String(ex.headers[':method'] ?? ''),
          path: String(ex.headers[':path'] ?? ''),
          status: sent === undefined ? 0 : Number(sent[':status'] ?? 200),
          bytesIn: ex.requestBody?.bytesReceived ?? 0,
          // The mesh's own answers are not streamed: their content-length.
          bytesOut: ex.bytesOut > 0 ? ex.bytesOut : Number(sent?.['content-length'] ?? 0) || 0,
        },
        code,
        startedAt,
      );
    },
    bug(ex, err) {
      logger.error('request handler failed', { requestId: ex.requestId, err: messageOf(err), code: MeshErrorCode.internal });
      rescue(ex.stream, ex.grpc, MeshErrorCode.internal, `internal error handling the request: ${messageOf(err)}`, ex.requestId);
    },
  };
}

/** Streams the upstream's answer (head, body with backpressure, trailers) to the client; resolves with the metrics code. */
function streamAnswer(
  ex: H2Exchange,
  response: H2Response,
  meshCode: string,
  target: string,
  fail: Fail<H2Exchange>,
  requestLog: RequestLog,
): Promise<string> | string {
  const { stream } = ex;
  if (stream.destroyed || stream.closed) {
    response.body.destroy();
    return CLIENT_GONE;
  }
  const head = h2DownstreamResponseHeaders(response.headers, ex.requestId, true);
  if (ex.answerFields !== undefined) Object.assign(head, ex.answerFields);
  if (response.endStream) {
    stream.respond(head, { endStream: true });
    return meshCode;
  }
  try {
    stream.respond(head, { waitForTrailers: true });
  } catch (err) {
    response.body.destroy();
    return fail(ex, MeshErrorCode.upstreamProtocolError, `${target}: response head cannot be forwarded (${messageOf(err)})`);
  }
  const mesh = ex.meshCallDeadline;
  const own = ex.callDeadline;
  const deadline = mesh !== undefined && (own === undefined || mesh.remainingMs() < own.remainingMs()) ? mesh : own;
  return new Promise<string>((resolve) => {
    const answer: H2AnswerStream = new H2AnswerStream(stream, response, {
      grpc: ex.grpc,
      deadline,
      deadlineIsMesh: deadline !== undefined && deadline === mesh,
      target,
      okCode: meshCode,
      done: (code) => {
        ex.bytesOut = answer.bytesSent;
        resolve(code);
      },
      onFailure: (code, detail) => requestLog.log('response stream ended early', code, { ...ex.fields, requestId: ex.requestId, detail }),
    });
  });
}

export function h2Pipeline(opts: H2PipelineOptions): StreamHandler {
  const run = pipeline<H2Exchange, H2Verdict>({
    strategy: opts.strategy,
    protocol: h2Protocol(opts.rescue, opts.requestLog, opts.logger),
    requestLog: opts.requestLog,
    accessLog: opts.accessLog,
  });
  return (stream, headers) => {
    const startedAt = performance.now();
    // Resets from the client are the client's business; 'close' tells us it left.
    stream.on('error', ignore);
    const gone = new ClientLink();
    stream.once('close', () => {
      if (stream.rstCode !== H2Error.NO_ERROR || !stream.writableFinished) gone.abort();
    });
    const requestId = requestIdOf(headerText(headers[REQUEST_ID_HEADER]));
    const grpc = isGrpcContentType(headers['content-type']);
    const budget = requestBudgetMs(headerText(headers[TIMEOUT_HEADER]), opts.requestTimeoutMs);
    const grpcTimeoutMs = grpc ? parseGrpcTimeout(headers[GRPC_TIMEOUT_HEADER]) : undefined;
    const callDeadline = grpcTimeoutMs !== undefined && grpcTimeoutMs > 0 ? new Deadline(grpcTimeoutMs) : undefined;
    const ex: H2Exchange = {
      stream,
      headers,
      grpc,
      requestId,
      budgetMs: budget instanceof MeshError ? 0 : Math.min(budget, grpcTimeoutMs ?? budget),
      callDeadline,
      meshCallDeadline: undefined,
      clientGone: gone,
      clientAddress: remoteAddressOf(stream),
      metrics: opts.unresolved,
      fields: {},
      onFinished: undefined,
      answerFields: undefined,
      traceparent: undefined,
      requestBody: undefined,
      bytesOut: 0,
      source: undefined,
    };
    void run(ex, startedAt, refusalOf(budget, grpcTimeoutMs));
  };
}

/** The answer to a request whose budget or gRPC deadline is unusable, before any routing; undefined when both are fine. */
function refusalOf(budget: number | MeshError, grpcTimeoutMs: number | undefined): MeshFailure | undefined {
  if (budget instanceof MeshError) return meshFailure(budget.code, budget.message);
  if (grpcTimeoutMs === undefined) return undefined;
  if (!(grpcTimeoutMs >= 0))
    return meshFailure(MeshErrorCode.badRequest, `${GRPC_TIMEOUT_HEADER}: must be 1-8 digits and a unit (H M S m u n)`);
  if (grpcTimeoutMs === 0) return meshFailure(MeshErrorCode.upstreamTimeout, 'the call arrived with no time left (grpc-timeout 0)');
  return undefined;
}

/** The client's address, read once per session (node's session.socket is a proxy object; the OS is asked on each read). */
const addresses = new WeakMap<object, string | undefined>();
function remoteAddressOf(stream: H2ServerStream): string | undefined {
  const session = stream.session;
  if (session === undefined) return undefined;
  if (addresses.has(session)) return addresses.get(session);
  const address = session.socket?.remoteAddress;
  addresses.set(session, address);
  return address;
}

function ignore(): void {}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
