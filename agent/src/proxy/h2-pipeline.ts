/**
 * The request pipeline for HTTP/2 streams (h2c on the listeners' ports):
 * the same duties as request-pipeline.ts — request id, budget, metrics,
 * log lines, the answer for every failure (through the direction's
 * H2Rescue, grpc-rescue.ts), streaming the upstream's answer back — over
 * node:http2 streams instead of the HTTP/1.1 codec's exchanges, with the
 * direction's H2Strategy (h2-outbound-strategy.ts, h2-inbound-strategy.ts)
 * finding the upstream and trying it.
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
 * accepts writes (pause on a full write, resume on 'drain'), so a slow
 * reader holds back the upstream through HTTP/2 windows instead of making
 * the agent buffer; the request body likewise (h2-body.ts).
 */
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { type Logger, MeshError, MeshErrorCode, messageOf, REQUEST_ID_HEADER, type SourceIdentity } from '@weft/shared';
import type { StreamHandler } from '../http2/h2c-server.js';
import type { AccessLog } from './access-log.js';
import { ClientLink } from './client-link.js';
import { Deadline, requestBudgetMs } from './deadline.js';
import type { MeshFailure } from './forward-strategy.js';
import { type H2Rescue, sendH2PolicyAnswer } from './grpc-rescue.js';
import { GRPC_TIMEOUT_HEADER, isGrpcContentType, parseGrpcTimeout } from './grpc-status.js';
import { CLIENT_GONE, H2AnswerStream } from './h2-answer.js';
import type { H2Response } from './h2-forward.js';
import { h2DownstreamResponseHeaders } from './h2-headers.js';
import { requestIdOf, TIMEOUT_HEADER, TRACEPARENT_HEADER } from './headers.js';
import type { Direction, ServiceMetrics } from './proxy-metrics.js';
import type { RequestLog } from './request-log.js';
import type { PolicyAnswer } from './route-policy.js';
import { streamH1AnswerOnH2 } from './translate-h2-to-h1.js';
import type { UpstreamResponse } from './try-outcome.js';

/** One HTTP/2 request as it moves through the pipeline; the strategy fills in what it learns. */
export interface H2Exchange {
  readonly stream: ServerHttp2Stream;
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
  metrics: ServiceMetrics;
  fields: Record<string, unknown>;
  onFinished: (() => void) | undefined;
  /** Fields added to the answer whatever it is (x-weft-rule). */
  answerFields: Record<string, string> | undefined;
  /** The traceparent every try sends (set when the access log samples the request, else the caller's goes on as it is). */
  traceparent: string | undefined;
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
  /** The access log and this listener's direction; off when absent (access-log.ts). */
  accessLog?: { log: AccessLog; direction: Direction };
}

export function h2Pipeline(opts: H2PipelineOptions): StreamHandler {
  const { strategy, rescue, requestLog } = opts;
  const accessLog = opts.accessLog?.log;
  const direction = opts.accessLog?.direction ?? 'outbound';

  const fail = (ex: H2Exchange, code: MeshErrorCode, message: string): string => {
    requestLog.log('request failed', code, { requestId: ex.requestId, ...ex.fields, detail: message });
    rescue(ex.stream, ex.grpc, code, message, ex.requestId);
    return code;
  };

  const handle = async (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> => {
    const startedAt = performance.now();
    // Resets from the client are the client's business; 'close' tells us it left.
    stream.on('error', ignore);
    const gone = new ClientLink();
    stream.once('close', () => {
      if (stream.rstCode !== constants.NGHTTP2_NO_ERROR || !stream.writableFinished) gone.abort();
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
    // Off: one check here and one at the end, as in request-pipeline.ts.
    const logged = accessLog?.sample() === true;
    if (logged) ex.traceparent = accessLog.traceparentOfField(headers[TRACEPARENT_HEADER]);
    let code = '';
    try {
      if (budget instanceof MeshError) code = fail(ex, budget.code, budget.message);
      else if (grpcTimeoutMs !== undefined && !(grpcTimeoutMs >= 0)) {
        code = fail(ex, MeshErrorCode.badRequest, `${GRPC_TIMEOUT_HEADER}: must be 1-8 digits and a unit (H M S m u n)`);
      } else if (grpcTimeoutMs === 0) {
        code = fail(ex, MeshErrorCode.upstreamTimeout, 'the call arrived with no time left (grpc-timeout 0)');
      } else {
        const v = await strategy.forward(ex);
        code = await answer(ex, v);
      }
    } catch (err) {
      code = MeshErrorCode.internal;
      opts.logger.error('request handler failed', { requestId, err: messageOf(err), code });
      rescue(stream, grpc, MeshErrorCode.internal, `internal error handling the request: ${messageOf(err)}`, requestId);
    } finally {
      ex.onFinished?.();
      // Counted once, with the caller (ex.source) and the body bytes both ways, as the HTTP/1.1 pipeline does.
      ex.metrics.request(
        ex.source,
        stream.headersSent ? Number(stream.sentHeaders?.[':status'] ?? 200) : 0,
        code,
        startedAt,
        ex.requestBody?.bytesReceived ?? 0,
        ex.bytesOut,
      );
      if (logged) accessLog.recordH2(direction, ex, code, startedAt);
    }
  };

  const answer = async (ex: H2Exchange, verdict: H2Verdict): Promise<string> => {
    switch (verdict.kind) {
      case 'mesh':
        return fail(ex, verdict.code, verdict.message);
      case 'gone':
        return CLIENT_GONE;
      case 'policy': {
        const a = verdict.answer;
        requestLog.log('policy answered', a.code, { ...ex.fields, rule: a.ruleId, status: a.status, requestId: ex.requestId });
        sendH2PolicyAnswer(ex.stream, ex.grpc, a, ex.requestId);
        return a.code;
      }
      case 'forwarded':
        return streamAnswer(ex, verdict.response, verdict.meshCode, verdict.target);
      case 'translated':
        return streamH1AnswerOnH2(ex.stream, verdict.response, {
          requestId: ex.requestId,
          extra: ex.answerFields,
          okCode: verdict.meshCode,
          target: verdict.target,
          onBytes: (n) => {
            ex.bytesOut = n;
          },
          onFailure: (code, detail) =>
            requestLog.log('response stream ended early', code, { ...ex.fields, requestId: ex.requestId, detail }),
        });
    }
  };

  /** Streams the upstream's answer (head, body with backpressure, trailers) to the client; resolves with the metrics code. */
  const streamAnswer = (ex: H2Exchange, response: H2Response, meshCode: string, target: string): Promise<string> => {
    const { stream } = ex;
    const _up = response.stream;
    if (stream.destroyed || stream.closed) {
      response.body.destroy();
      return Promise.resolve(CLIENT_GONE);
    }
    const head = h2DownstreamResponseHeaders(response.headers, ex.requestId, true);
    if (ex.answerFields !== undefined) Object.assign(head, ex.answerFields);
    if (response.endStream) {
      stream.respond(head, { endStream: true });
      return Promise.resolve(meshCode);
    }
    try {
      stream.respond(head, { waitForTrailers: true });
    } catch (err) {
      response.body.destroy();
      return Promise.resolve(
        fail(ex, MeshErrorCode.upstreamProtocolError, `${target}: response head cannot be forwarded (${messageOf(err)})`),
      );
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
  };

  return (stream, headers) => {
    void handle(stream, headers);
  };
}

/** The client's address, read once per session (node's session.socket is a proxy object; the OS is asked on each read). */
const addresses = new WeakMap<object, string | undefined>();
function remoteAddressOf(stream: ServerHttp2Stream): string | undefined {
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
