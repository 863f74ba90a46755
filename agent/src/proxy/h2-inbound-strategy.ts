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
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { INSTANCE_HEADER, MeshErrorCode } from '@weft/shared';
import type { LocalInstances } from '../contracts.js';
import type { H2SessionPool } from '../http2/session-pool.js';
import { Deadline } from './deadline.js';
import type { TryOutcome } from './forward.js';
import { meshFailure } from './forward-strategy.js';
import { formatGrpcTimeout, GRPC_TIMEOUT_HEADER } from './grpc-status.js';
import { H2ReplayBody } from './h2-body.js';
import { type H2Response, sendH2Once } from './h2-forward.js';
import { h2UpstreamRequestHeaders } from './h2-headers.js';
import { speaksH2 } from './h2-outbound-strategy.js';
import type { H2Exchange, H2Strategy, H2Verdict } from './h2-pipeline.js';
import { localInstanceOf } from './inbound-strategy.js';
import { failureCode, failureMessage } from './mesh-response.js';
import type { ProxyMetrics } from './proxy-metrics.js';
import { originOf } from './upstream-pools.js';

export interface H2InboundDeps {
  agentId: string;
  local: LocalInstances;
  sessions: H2SessionPool;
  metrics: ProxyMetrics;
  maxReplayBodyBytes: number;
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
    if (!speaksH2(instance.protocol)) {
      return meshFailure(
        MeshErrorCode.upstreamProtocolError,
        `${what}: HTTP/2 call not forwarded (it speaks ${instance.protocol ?? 'http'}, not HTTP/2)`,
      );
    }
    const path = String(h[':path'] ?? '/');
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
  return { forward };
}
