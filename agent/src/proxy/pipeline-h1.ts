/**
 * HTTP/1.1 on the one request pipeline (pipeline.ts), over the codec's
 * exchanges (http1/): per request it takes the caller's request id (or
 * makes one) and the budget (x-weft-timeout-ms, else the listener's
 * default) into an Exchange, and says how this protocol answers: the mesh's
 * own answers through the direction's Rescue (respond.ts), the policy's
 * (policy-response.ts), an upstream's answer streamed back (forward.ts), and,
 * for an `upgraded` verdict (a 101 to a request that asked to upgrade), the
 * 101 with the client's connection spliced to the upstream's
 * (tunnel-registry.ts: the tunnel outlives the request). A throw (a bug) goes
 * on to listener-server.ts, which logs it and answers `internal`.
 */
import { MeshError, MeshErrorCode, messageOf, REQUEST_ID_HEADER } from '@weft/shared';
import { UpstreamProtocolError } from '../http1/errors.js';
import type { Http1Request, Http1Response } from '../http1/server-message.js';
import { requestBudgetMs } from './deadline.js';
import { streamResponse } from './forward.js';
import { type Exchange, type ForwardStrategy, meshFailure, type Verdict } from './forward-strategy.js';
import { requestIdOf, TIMEOUT_HEADER } from './headers.js';
import type { RequestContext, RequestHandler } from './listener-server.js';
import { failureMessage, releaseRequestBody } from './mesh-response.js';
import { CLIENT_GONE, type ExchangeProtocol, type Fail, type PipelineOptions, pipeline } from './pipeline.js';
import { sendPolicyResponse } from './policy-response.js';
import type { ServiceMetrics } from './proxy-metrics.js';
import type { RequestLog } from './request-log.js';
import type { Rescue } from './respond.js';
import type { Tunnels } from './tunnel-registry.js';
import { switchingLines, upgradeOf } from './tunnel-upgrade.js';

export interface H1PipelineOptions {
  strategy: ForwardStrategy;
  rescue: Rescue;
  requestLog: RequestLog;
  /** Where requests are counted until the strategy resolves their service (bounded cardinality). */
  unresolved: ServiceMetrics;
  /** The budget when the caller sends no x-weft-timeout-ms. */
  requestTimeoutMs: number;
  /** Where upgraded connections are spliced (an `upgraded` verdict); without it they are refused. */
  tunnels?: Tunnels;
  accessLog?: PipelineOptions<Exchange, Verdict>['accessLog'];
}

/** How HTTP/1.1 exchanges are answered and accounted. */
function h1Protocol(rescue: Rescue, requestLog: RequestLog, tunnels: Tunnels | undefined): ExchangeProtocol<Exchange, Verdict> {
  return {
    rescue(ex, code, message, detail) {
      releaseRequestBody(ex.req, ex.res);
      rescue(ex.res, code, message, ex.requestId, detail);
    },
    policy(ex, answer) {
      releaseRequestBody(ex.req, ex.res);
      sendPolicyResponse(ex.res, answer, ex.requestId);
    },
    answer(ex, verdict, fail) {
      if (verdict.kind === 'upgraded') {
        // The 101 is passed on only to a client that asked; the connections are spliced from here on.
        const upstream = verdict.response.tunnel;
        const asked = upgradeOf(ex.req);
        if (ex.clientGone.aborted) {
          upstream.destroy();
          return CLIENT_GONE;
        }
        if (tunnels === undefined || asked === undefined) {
          upstream.destroy();
          return fail(ex, MeshErrorCode.upgradeNotSupported, `${verdict.target}: switched protocols, but upgrades are not carried here`);
        }
        let client: ReturnType<typeof ex.res.switchProtocols>;
        try {
          client = ex.res.switchProtocols(switchingLines(verdict.response, ex.requestId, asked));
        } catch (err) {
          upstream.destroy();
          return fail(ex, MeshErrorCode.upstreamProtocolError, `${verdict.target}: cannot pass on its 101 (${messageOf(err)})`);
        }
        void tunnels.splice(client, upstream, {
          kind: 'upgrade',
          service: verdict.service,
          instanceId: verdict.instanceId,
          localInstance: verdict.localInstance,
        });
        return '';
      }
      let streaming: Promise<void> | undefined;
      try {
        // Undefined when the answer was complete already: no promise then.
        streaming = streamResponse(ex.res, verdict.response, ex.requestId);
      } catch (err) {
        return answerFailedMidway(ex, verdict.target, err, fail, requestLog);
      }
      if (streaming === undefined) return verdict.meshCode;
      return streaming.then(
        () => verdict.meshCode,
        (err: unknown) => answerFailedMidway(ex, verdict.target, err, fail, requestLog),
      );
    },
    traceparentOf: (log, ex) => log.traceparentOf(ex.req),
    status: (ex) => (ex.res.headersSent ? ex.res.statusCode : 0),
    bytesIn: (ex) => ex.req.bodyBytesReceived,
    bytesOut: (ex) => (ex.res.headersSent && ex.res.statusCode === 101 ? 0 : ex.res.bodyBytesSent),
    record(log, direction, ex, code, startedAt) {
      const { req, res } = ex;
      const status = res.headersSent ? res.statusCode : 0;
      log.record(
        direction,
        ex,
        {
          clientAddress: req.remoteAddress,
          method: req.method,
          path: req.url,
          status,
          bytesIn: req.bodyBytesReceived,
          bytesOut: status === 101 ? 0 : res.bodyBytesSent,
        },
        code,
        startedAt,
      );
    },
    bug(_ex, err) {
      // listener-server.ts logs it and answers `internal`.
      throw err;
    },
  };
}

/** The code of a forwarded answer that failed: the mesh's answer when nothing was sent yet, else the cut answer's code. */
function answerFailedMidway(ex: Exchange, target: string, err: unknown, fail: Fail<Exchange>, requestLog: RequestLog): string {
  if (!ex.res.headersSent) {
    if (err instanceof UpstreamProtocolError) {
      return fail(ex, MeshErrorCode.upstreamProtocolError, failureMessage('protocol', target, 0, err));
    }
    return fail(ex, MeshErrorCode.upstreamReset, `${target}: invalid response head (${messageOf(err)})`);
  }
  // Either side failed mid-body; the client's response is already cut.
  const code = ex.clientGone.aborted
    ? CLIENT_GONE
    : err instanceof UpstreamProtocolError
      ? MeshErrorCode.upstreamProtocolError
      : MeshErrorCode.upstreamReset;
  requestLog.log('response stream ended early', code, { ...ex.fields, requestId: ex.requestId, err: messageOf(err) });
  return code;
}

export function requestPipeline(opts: H1PipelineOptions): RequestHandler {
  const run = pipeline<Exchange, Verdict>({
    strategy: opts.strategy,
    protocol: h1Protocol(opts.rescue, opts.requestLog, opts.tunnels),
    requestLog: opts.requestLog,
    accessLog: opts.accessLog,
  });
  return (req: Http1Request, res: Http1Response, ctx: RequestContext): Promise<void> => {
    const startedAt = performance.now();
    const requestId = requestIdOf(req.header(REQUEST_ID_HEADER));
    const budget = requestBudgetMs(req.header(TIMEOUT_HEADER), opts.requestTimeoutMs);
    const ex: Exchange = {
      req,
      res,
      requestId,
      budgetMs: budget instanceof MeshError ? 0 : budget,
      clientGone: ctx.clientGone,
      source: ctx.source,
      metrics: opts.unresolved,
      fields: {},
      onFinished: undefined,
      traceparent: undefined,
    };
    return run(ex, startedAt, budget instanceof MeshError ? meshFailure(budget.code, budget.message) : undefined);
  };
}
