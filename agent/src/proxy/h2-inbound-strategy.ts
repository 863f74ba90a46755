/**
 * Inbound for HTTP/2 and gRPC: a peer agent's stream names the local
 * instance in x-weft-instance; we hand it to that instance over h2c on the
 * pooled session to it (one per instance address), without the mesh
 * control fields, with the gRPC deadline reduced by the time spent. No
 * retries here (the calling agent owns them), except a stream the instance
 * refused or a session that went away before the stream opened (`unsent`:
 * the app did not see it), re-sent at most twice. Our own answers are
 * marked (grpc-rescue.ts) so the calling agent believes
 * unknown_instance / upstream_connect_failed / shutting_down as "not
 * delivered" and retries elsewhere.
 *
 * An instance that speaks HTTP/1.1 gets a plain HTTP/2 request translated
 * (translate-h2-to-h1.ts) on its HTTP/1.1 pool; a gRPC call to it is refused
 * (protocol_not_translatable: gRPC UNIMPLEMENTED), as is anything to a `tcp`
 * instance (not-translatable.ts).
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { ANSWERED_BY_HEADER, INSTANCE_HEADER, MeshErrorCode, meshHttpStatus, messageOf, type SourceIdentity } from '@weft/shared';
import type { H2ServerStream } from '@weft/shared/http2-codec/stream';
import type { LocalInstance, LocalInstances } from '../contracts.js';
import type { H2SessionPool } from '../http2/session-pool.js';
import type { AccessGate } from './access-gate.js';
import { Deadline } from './deadline.js';
import type { TryOutcome } from './forward.js';
import { meshFailure } from './forward-strategy.js';
import { formatGrpcTimeout, GRPC_TIMEOUT_HEADER } from './grpc-status.js';
import { H2ReplayBody } from './h2-body.js';
import { type H2Response, sendH2Once } from './h2-forward.js';
import { h2UpstreamRequestHeaders } from './h2-headers.js';
import { meshAnswer } from './h2-mesh-answer.js';
import { localInstanceOf } from './inbound-strategy.js';
import { failureCode, failureMessage } from './mesh-response.js';
import { h2Refusal, NotTranslatable, speaksH2 } from './not-translatable.js';
import type { H2Exchange, H2Strategy, H2Verdict } from './pipeline-h2.js';
import type { ProxyMetrics } from './proxy-metrics.js';
import { h1HeadOfH2, sendH2AsH1 } from './translate-h2-to-h1.js';
import { originOf, type UpstreamPools } from './upstream-pools.js';

export interface H2InboundDeps {
  agentId: string;
  local: LocalInstances;
  sessions: H2SessionPool;
  metrics: ProxyMetrics;
  maxReplayBodyBytes: number;
  /** Access enforcement, as the HTTP/1.1 inbound strategy; absent: not enforced. */
  access?: AccessGate;
  /** The caller of a stream (its session's verified certificate, inbound-mesh-tls.ts); absent: unauthenticated. */
  identify?: (stream: H2ServerStream) => SourceIdentity | undefined;
  /** HTTP/1.1 pools to local instances, for translated requests; absent: calls to HTTP/1.1 instances are refused. */
  pools?: UpstreamPools;
}

const RESENDS = 2;

export function h2InboundStrategy(d: H2InboundDeps): H2Strategy {
  const forward = async (ex: H2Exchange): Promise<H2Verdict> => {
    const h = ex.headers;
    const raw = h[INSTANCE_HEADER];
    const instance = localInstanceOf(d, ex, Array.isArray(raw) ? raw[0] : raw);
    if (!('instanceId' in instance)) return instance;
    const instanceId = instance.instanceId;
    const what = `service ${instance.service}: instance ${instanceId} at ${instance.address}:${instance.port}`;
    const path = String(h[':path'] ?? '/');
    ex.source = d.identify?.(ex.stream);
    if (d.access !== undefined) {
      const denied = await d.access.checkWhenReady(instance.service, ex.source, String(h[':method'] ?? 'GET'), path, ex.requestId);
      if (denied !== undefined) {
        // 403 `forbidden; policy=<rule>` (gRPC: PERMISSION_DENIED), marked as this agent's own answer.
        const value = denied.detail === undefined ? denied.code : `${denied.code}; ${denied.detail}`;
        const mark = { [ANSWERED_BY_HEADER]: `agent/${d.agentId}` };
        return { kind: 'policy', answer: meshAnswer(denied.code, meshHttpStatus(denied.code), denied.message, mark, value) };
      }
    }
    if (!speaksH2(instance.protocol)) {
      const refusal = h2Refusal(instance.protocol, ex.grpc) ?? (d.pools === undefined ? noPools : undefined);
      if (refusal !== undefined) return meshFailure(refusal.code, `${what}: ${refusal.message}`);
      return translated(ex, instance, what, path);
    }
    const base = h2UpstreamRequestHeaders(h, {
      method: String(h[':method'] ?? 'GET'),
      path,
      authority: String(h[':authority'] ?? instance.service),
      requestId: ex.requestId,
      clientAddress: undefined,
      traceparent: ex.traceparent,
    });
    const key = originOf(instance.address, instance.port);
    const deadline = new Deadline(ex.budgetMs);
    const body = ex.stream.endAfterHeaders ? null : new H2ReplayBody(ex.stream, d.maxReplayBodyBytes, ex.grpc);
    ex.requestBody = body ?? undefined;
    let outcome: TryOutcome | undefined;
    for (let i = 0; i <= RESENDS; i++) {
      if (i > 0 && body !== null && !body.replayable) break;
      const headers: OutgoingHttpHeaders = { ...base };
      if (ex.callDeadline !== undefined) headers[GRPC_TIMEOUT_HEADER] = formatGrpcTimeout(ex.callDeadline.remainingMs());
      outcome = await sendH2Once({
        pool: d.sessions,
        key,
        host: instance.address,
        port: instance.port,
        headers,
        body,
        timeoutMs: i === 0 ? ex.budgetMs : deadline.remainingMs(),
        clientGone: ex.clientGone,
        viaPeer: false,
      });
      if (outcome.ok || outcome.kind !== 'unsent') break;
    }
    if (outcome === undefined) return { kind: 'gone' };
    if (!outcome.ok) {
      if (outcome.kind === 'aborted') return { kind: 'gone' };
      return meshFailure(failureCode(outcome.kind), failureMessage(outcome.kind, what, ex.budgetMs, outcome.error));
    }
    return { kind: 'forwarded', response: outcome.response as H2Response, target: what, meshCode: '' };
  };
  /** A plain HTTP/2 request to an HTTP/1.1 instance, sent as HTTP/1.1 (re-sent, like above, only when it never went out). */
  const translated = async (ex: H2Exchange, instance: LocalInstance, what: string, path: string): Promise<H2Verdict> => {
    const h = ex.headers;
    const head = h1HeadOfH2(h, {
      clientAddress: undefined,
      authority: String(h[':authority'] ?? instance.service),
      requestId: ex.requestId,
      firstHop: false,
      traceparent: ex.traceparent,
    });
    let pool: ReturnType<UpstreamPools['get']>;
    try {
      pool = (d.pools as UpstreamPools).get(originOf(instance.address, instance.port), instance.address, instance.port);
    } catch (err) {
      return meshFailure(MeshErrorCode.shuttingDown, `agent ${d.agentId}: shutting down (${messageOf(err)})`);
    }
    const deadline = new Deadline(ex.budgetMs);
    const body = ex.stream.endAfterHeaders ? null : new H2ReplayBody(ex.stream, d.maxReplayBodyBytes, false);
    ex.requestBody = body ?? undefined;
    let outcome: TryOutcome | undefined;
    for (let i = 0; i <= RESENDS; i++) {
      if (i > 0 && body !== null && !body.replayable) break;
      outcome = await sendH2AsH1(pool, {
        method: String(h[':method'] ?? 'GET'),
        path,
        head,
        body,
        timeoutMs: i === 0 ? ex.budgetMs : deadline.remainingMs(),
        clientGone: ex.clientGone,
      });
      if (outcome.ok || outcome.kind !== 'unsent') break;
    }
    if (outcome === undefined) return { kind: 'gone' };
    if (!outcome.ok) {
      if (outcome.kind === 'aborted') return { kind: 'gone' };
      return meshFailure(failureCode(outcome.kind), failureMessage(outcome.kind, what, ex.budgetMs, outcome.error));
    }
    return { kind: 'translated', response: outcome.response, target: what, meshCode: '' };
  };
  return { forward };
}

const noPools = new NotTranslatable(MeshErrorCode.upstreamProtocolError, 'it speaks HTTP/1.1 and this listener has no HTTP/1.1 pool');
