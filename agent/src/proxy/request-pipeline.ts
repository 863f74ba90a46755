/**
 * The one request pipeline every listener runs: per request it
 *   1. takes the caller's request id (or makes one) and the request budget
 *      (x-weft-timeout-ms, else the listener's default);
 *   2. asks the direction's strategy to find the upstream and try it
 *      (forward-strategy.ts: failures come back as data);
 *   3. answers: streams the upstream's answer back, or writes the mesh's own
 *      answer through the direction's Rescue (respond.ts), or the policy's,
 *      or, for an `upgraded` verdict (a 101 to a request that asked to
 *      upgrade), answers 101 and splices the client's connection to the
 *      upstream's (tunnel-registry.ts: the tunnel outlives the request);
 *   4. logs failures (bounded, request-log.ts) and counts the request in the
 *      metrics of the service the strategy resolved, exactly once, whatever
 *      happened, labelled with its source (source-label.ts) — outbound this
 *      also feeds the golden metrics reported to the control plane
 *      (edge-stats.ts) — and runs the strategy's `onFinished` (circuit breaker);
 *   5. writes the request's access-log line when the access log is on and
 *      sampled it (access-log.ts; off: one branch).
 * A strategy never writes answers and never counts; the pipeline never
 * routes. Inbound, outbound and each later protocol are strategies of this
 * one pipeline, so a rule about answers or accounting is written once.
 */
import { MeshError, MeshErrorCode, messageOf, REQUEST_ID_HEADER } from '@weft/shared';
import { UpstreamProtocolError } from '../http1/errors.js';
import type { Http1Request, Http1Response } from '../http1/server-message.js';
import type { AccessLog } from './access-log.js';
import { requestBudgetMs } from './deadline.js';
import { streamResponse } from './forward.js';
import type { Exchange, ForwardStrategy, Verdict } from './forward-strategy.js';
import { requestIdOf, TIMEOUT_HEADER } from './headers.js';
import type { RequestContext, RequestHandler } from './listener-server.js';
import { failureMessage, releaseRequestBody } from './mesh-response.js';
import { sendPolicyResponse } from './policy-response.js';
import type { Direction, ServiceMetrics } from './proxy-metrics.js';
import type { RequestLog } from './request-log.js';
import type { Rescue } from './respond.js';
import type { Tunnels } from './tunnel-registry.js';
import { switchingLines, upgradeOf } from './tunnel-upgrade.js';

export interface PipelineOptions {
  strategy: ForwardStrategy;
  rescue: Rescue;
  requestLog: RequestLog;
  /** Where requests are counted until the strategy resolves their service (bounded cardinality). */
  unresolved: ServiceMetrics;
  /** The budget when the caller sends no x-weft-timeout-ms. */
  requestTimeoutMs: number;
  /** Where upgraded connections are spliced (an `upgraded` verdict); without it they are refused. */
  tunnels?: Tunnels;
  /** The access log and this listener's direction; off when absent. */
  accessLog?: { log: AccessLog; direction: Direction };
}

/** The metrics code of a request that ended because the client left. */
const CLIENT_GONE = 'client_gone';

export function requestPipeline(opts: PipelineOptions): RequestHandler {
  const { strategy, rescue, requestLog, unresolved, tunnels } = opts;
  const accessLog = opts.accessLog?.log;
  const direction = opts.accessLog?.direction ?? 'outbound';

  /** Writes the mesh's own answer and logs it; returns the code for the metrics. */
  const fail = (ex: Exchange, code: MeshErrorCode, message: string, detail?: string): string => {
    requestLog.log('request failed', code, { requestId: ex.requestId, ...ex.fields, detail: message });
    releaseRequestBody(ex.req, ex.res);
    rescue(ex.res, code, message, ex.requestId, detail);
    return code;
  };

  /** Answers `ex` by its verdict; returns the x-weft-error code of the answer ('' for the app's own). */
  const answer = async (ex: Exchange, verdict: Verdict): Promise<string> => {
    switch (verdict.kind) {
      case 'mesh':
        return fail(ex, verdict.code, verdict.message, verdict.detail);
      case 'gone':
        return CLIENT_GONE;
      case 'policy': {
        const a = verdict.answer;
        requestLog.log('policy answered', a.code, { ...ex.fields, rule: a.ruleId, status: a.status, requestId: ex.requestId });
        releaseRequestBody(ex.req, ex.res);
        sendPolicyResponse(ex.res, a, ex.requestId);
        return a.code;
      }
      case 'upgraded': {
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
      case 'forwarded':
        try {
          // Undefined when the answer was complete already: no await (a microtask) then.
          const streaming = streamResponse(ex.res, verdict.response, ex.requestId);
          if (streaming !== undefined) await streaming;
          return verdict.meshCode;
        } catch (err) {
          if (!ex.res.headersSent) {
            if (err instanceof UpstreamProtocolError) {
              return fail(ex, MeshErrorCode.upstreamProtocolError, failureMessage('protocol', verdict.target, 0, err));
            }
            return fail(ex, MeshErrorCode.upstreamReset, `${verdict.target}: invalid response head (${messageOf(err)})`);
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
    }
  };

  return async (req: Http1Request, res: Http1Response, ctx: RequestContext): Promise<void> => {
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
      metrics: unresolved,
      fields: {},
      onFinished: undefined,
      traceparent: undefined,
    };
    // Off: one check here and one at the end. On: the sampling decision, and the traceparent every try will send.
    const logged = accessLog?.sample() === true;
    if (logged) ex.traceparent = accessLog.traceparentOf(req);
    let code = '';
    try {
      if (budget instanceof MeshError) code = fail(ex, budget.code, budget.message);
      else {
        const v = strategy.forward(ex);
        code = await answer(ex, v instanceof Promise ? await v : v);
      }
    } catch (err) {
      // A bug: listener-server.ts logs it and answers `internal`.
      code = MeshErrorCode.internal;
      throw err;
    } finally {
      ex.onFinished?.();
      // Counted once, with the caller (ex.source), and into the golden metrics when outbound (edge-stats.ts).
      const status = res.headersSent ? res.statusCode : 0;
      ex.metrics.request(ex.source, status, code, startedAt, req.bodyBytesReceived, status === 101 ? 0 : res.bodyBytesSent);
      if (logged) accessLog.record(direction, ex, res, code, startedAt);
    }
  };
}
