/**
 * The one request pipeline every listener runs, whatever the protocol. Per
 * request it
 *   1. samples the access log and fixes the traceparent a sampled request's
 *      tries send (access-log.ts; off: one branch);
 *   2. asks the direction's strategy to find the upstream and try it
 *      (forward-strategy.ts, h2-*-strategy.ts: failures come back as data),
 *      unless the protocol's entry refused the request already (a bad
 *      budget or gRPC deadline);
 *   3. answers: the mesh's own answer (written by the protocol through the
 *      direction's rescue: respond.ts, grpc-rescue.ts), the traffic policy's,
 *      nothing for a client that left, or the protocol's own verdicts
 *      (an upstream's answer streamed back, a 101 spliced into a tunnel, a
 *      translated answer);
 *   4. logs failures (bounded, request-log.ts), counts the request exactly
 *      once in the metrics of the service the strategy resolved, labelled
 *      with its source (outbound also into the golden metrics, edge-stats.ts),
 *      whatever happened, and runs the strategy's `onFinished` (circuit
 *      breaker);
 *   5. writes the access-log line of a sampled request.
 * The protocols (pipeline-h1.ts over the HTTP/1.1 codec, pipeline-h2.ts over
 * node:http2 streams) are strategies of this one pipeline: each reads its
 * request's id and budget into an exchange and says how to write an answer
 * and what was sent; a rule about answers or accounting is written here,
 * once. A strategy never writes answers and never counts; the pipeline
 * never routes.
 */
import { MeshErrorCode, type SourceIdentity } from '@weft/shared';
import type { AccessLog } from './access-log.js';
import type { GoneSignal } from './client-link.js';
import type { MeshFailure } from './forward-strategy.js';
import type { Direction, ServiceMetrics } from './proxy-metrics.js';
import type { RequestLog } from './request-log.js';
import type { PolicyAnswer } from './route-policy.js';

/** The metrics code of a request that ended because the client left. */
export const CLIENT_GONE = 'client_gone';

/** What every request carries through the pipeline, whatever its protocol; the strategy fills in what it learns. */
export interface PipelineExchange {
  readonly requestId: string;
  readonly clientGone: GoneSignal;
  /** Who sent the request, established from the connection or a credential, never from a header; undefined = unattributed. */
  readonly source: SourceIdentity | undefined;
  /** Where the request is counted; the listener's "unresolved" bucket until the strategy knows the service. */
  metrics: ServiceMetrics;
  /** Log fields (service, instance, tries) the strategy learned; every log line of the request carries them. */
  fields: Record<string, unknown>;
  /** Called once when the request is finished, whatever happened (a circuit breaker's leave). */
  onFinished: (() => void) | undefined;
  /** The traceparent every try sends, fixed on arrival for a request the access log records; undefined otherwise. */
  traceparent: string | undefined;
}

/** The verdicts every protocol shares; a protocol adds its own kinds (forwarded, upgraded, translated). */
export type SharedVerdict = MeshFailure | { kind: 'policy'; answer: PolicyAnswer } | { kind: 'gone' };

/** Writes the mesh's own answer to `ex` and logs it; returns the code for the metrics. */
export type Fail<X> = (ex: X, code: MeshErrorCode, message: string, detail?: string) => string;

/**
 * How one protocol's requests are answered and accounted. Called by the
 * pipeline only; none of these may throw for anything the network or the
 * caller can cause, except `bug`.
 */
export interface ExchangeProtocol<X extends PipelineExchange, V extends { kind: string }> {
  /** Writes the mesh's own answer (x-weft-error and a readable body; on a gRPC call, trailers with its status). */
  rescue(ex: X, code: MeshErrorCode, message: string, detail: string | undefined): void;
  /** Writes the traffic policy's own answer (rate limit, fault, redirect, direct response). */
  policy(ex: X, answer: PolicyAnswer): void;
  /** Answers this protocol's own verdicts; resolves with the metrics code ('' for the app's own answer). */
  answer(ex: X, verdict: Exclude<V, SharedVerdict>, fail: Fail<X>): Promise<string> | string;
  /** The traceparent a sampled request's tries send: the caller's when valid, else a new trace. */
  traceparentOf(log: AccessLog, ex: X): string;
  /** The status the client was sent (0: none), for the metrics. */
  status(ex: X): number;
  bytesIn(ex: X): number;
  bytesOut(ex: X): number;
  /** Writes the access-log line of a finished request. */
  record(log: AccessLog, direction: Direction, ex: X, code: string, startedAt: number): void;
  /** A throw from the strategy or an answer (a bug, counted `internal`): answers it here, or throws it on to the listener. */
  bug(ex: X, err: unknown): void;
}

export interface PipelineOptions<X extends PipelineExchange, V extends { kind: string }> {
  strategy: { forward(ex: X): Promise<V | SharedVerdict> | V | SharedVerdict };
  protocol: ExchangeProtocol<X, V>;
  requestLog: RequestLog;
  /** The access log and this listener's direction; off when absent. */
  accessLog?: { log: AccessLog; direction: Direction } | undefined;
}

/** Runs one exchange through the pipeline; `refusal`: the protocol's entry refused it before any routing. */
export type RunExchange<X> = (ex: X, startedAt: number, refusal: MeshFailure | undefined) => Promise<void>;

export function pipeline<X extends PipelineExchange, V extends { kind: string }>(opts: PipelineOptions<X, V>): RunExchange<X> {
  const { strategy, protocol, requestLog } = opts;
  const accessLog = opts.accessLog?.log;
  const direction = opts.accessLog?.direction ?? 'outbound';

  const failWith: Fail<X> = (ex, code, message, detail) => {
    requestLog.log('request failed', code, { requestId: ex.requestId, ...ex.fields, detail: message });
    protocol.rescue(ex, code, message, detail);
    return code;
  };

  const answer = (ex: X, verdict: V | SharedVerdict): Promise<string> | string => {
    const v = verdict as SharedVerdict;
    switch (v.kind) {
      case 'mesh':
        return failWith(ex, v.code, v.message, v.detail);
      case 'gone':
        return CLIENT_GONE;
      case 'policy': {
        const a = v.answer;
        requestLog.log('policy answered', a.code, { ...ex.fields, rule: a.ruleId, status: a.status, requestId: ex.requestId });
        protocol.policy(ex, a);
        return a.code;
      }
      default:
        return protocol.answer(ex, verdict as Exclude<V, SharedVerdict>, failWith);
    }
  };

  return async (ex, startedAt, refusal) => {
    // Off: one check here and one at the end. On: the sampling decision, and the traceparent every try will send.
    const logged = accessLog?.sample() === true;
    if (logged) ex.traceparent = protocol.traceparentOf(accessLog, ex);
    let code = '';
    try {
      if (refusal !== undefined) code = failWith(ex, refusal.code, refusal.message, refusal.detail);
      else {
        // Known services resolve without a promise, and a complete answer is written without one: no await then.
        const v = strategy.forward(ex);
        const a = answer(ex, v instanceof Promise ? await v : v);
        code = typeof a === 'string' ? a : await a;
      }
    } catch (err) {
      code = MeshErrorCode.internal;
      protocol.bug(ex, err);
    } finally {
      ex.onFinished?.();
      // Counted once, with the caller (ex.source), and into the golden metrics when outbound (edge-stats.ts).
      ex.metrics.request(ex.source, protocol.status(ex), code, startedAt, protocol.bytesIn(ex), protocol.bytesOut(ex));
      if (logged) protocol.record(accessLog, direction, ex, code, startedAt);
    }
  };
}
