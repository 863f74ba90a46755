/**
 * The seam between the request pipeline (pipeline.ts) and a
 * direction or protocol. The pipeline owns everything every request has:
 * its id, its budget, its metrics, its log lines, the answer for every
 * failure, and streaming the upstream's answer back. A strategy only says
 * where the request goes and tries it there (outbound-strategy.ts,
 * inbound-strategy.ts; HTTP/2, TCP and mTLS plug in here too), and hands
 * back a Verdict: failures are data, never throws.
 */
import type { MeshErrorCode, SourceIdentity } from '@weft/shared';
import type { Http1Request, Http1Response } from '../http1/server-message.js';
import type { SocketTunnel } from '../http1/socket-tunnel.js';
import type { GoneSignal } from './client-link.js';
import type { UpstreamResponse } from './forward.js';
import type { PipelineExchange } from './pipeline.js';
import type { ServiceMetrics } from './proxy-metrics.js';
import type { PolicyAnswer } from './route-policy.js';

/** One HTTP/1.1 request as it moves through the pipeline (pipeline-h1.ts); the strategy fills in what it learns. */
export interface Exchange extends PipelineExchange {
  readonly req: Http1Request;
  readonly res: Http1Response;
  readonly requestId: string;
  /** The time the caller allows, from x-weft-timeout-ms or the listener's default. */
  readonly budgetMs: number;
  readonly clientGone: GoneSignal;
  /**
   * Who sent the request, as the listener established it from the connection
   * (listener-server.ts `identify`): the caller's verified certificate
   * inbound, the local app's proxy credential outbound. Undefined = not
   * authenticated (every request until the mTLS hop lands). Never taken from
   * a header.
   */
  readonly source: SourceIdentity | undefined;
  /** Where the request is counted; the pipeline's "unresolved" bucket until the strategy knows the service. */
  metrics: ServiceMetrics;
  /** Log fields (service, instance, tries) the strategy learned; every log line of the request carries them. */
  fields: Record<string, unknown>;
  /** Called once when the request is finished, whatever happened (a circuit breaker's leave). */
  onFinished: (() => void) | undefined;
  /**
   * The traceparent every try sends upstream, fixed on arrival for a request
   * the access log records (access-log.ts); undefined otherwise: each try then
   * carries the caller's valid one or starts a trace (headers.ts).
   */
  traceparent: string | undefined;
}

/** The mesh answers by itself; the pipeline writes it with x-weft-error and a readable body. */
export interface MeshFailure {
  kind: 'mesh';
  code: MeshErrorCode;
  message: string;
  /** Appended to the x-weft-error value ("forbidden; policy=orders/1"); the code alone is what metrics and peers read. */
  detail?: string;
}

/** An upstream answered: the pipeline streams it back. */
export interface Forwarded {
  kind: 'forwarded';
  response: UpstreamResponse;
  /** "service orders: instance orders-1 at 10.0.0.5:8080", for a failure while streaming. */
  target: string;
  /** The x-weft-error the mesh believes of this answer (a peer agent's own answer), '' for the app's own. */
  meshCode: string;
}

/**
 * The upstream switched protocols (101) on a request that asked to upgrade:
 * the pipeline answers 101 and splices the client's connection to
 * `response.tunnel` (tunnel-registry.ts), bytes unchanged both ways.
 */
export interface Upgraded {
  kind: 'upgraded';
  /** The 101 (its head is passed on); `response.tunnel` is the upstream connection, with any bytes read after the 101 first. */
  response: UpstreamResponse & { readonly tunnel: SocketTunnel };
  target: string;
  /** The tunnel's labels and drain: which service and instance, and whether the instance is on this host. */
  service: string;
  instanceId: string;
  localInstance: boolean;
}

export type Verdict =
  | MeshFailure
  | Forwarded
  | Upgraded
  /** The traffic policy answers (rate limit, fault, redirect, direct response). */
  | { kind: 'policy'; answer: PolicyAnswer }
  /** The client went away: nobody is left to answer. */
  | { kind: 'gone' };

export interface ForwardStrategy {
  /**
   * Finds the upstream and tries it. Must not write to `ex.res` except
   * response headers that shape the answer (x-weft-rule); must not throw
   * for anything the network or the caller can cause (a throw is answered
   * `internal` and logged as a bug).
   */
  forward(ex: Exchange): Promise<Verdict> | Verdict;
}

export function meshFailure(code: MeshErrorCode, message: string): MeshFailure {
  return { kind: 'mesh', code, message };
}

export const GONE: { readonly kind: 'gone' } = { kind: 'gone' };

/** The verdict for an upstream's answer: `upgraded` when it switched protocols, else `forwarded`. */
export function answered(
  response: UpstreamResponse,
  target: string,
  meshCode: string,
  tunnel: { service: string; instanceId: string; localInstance: boolean },
): Forwarded | Upgraded {
  const t = response.tunnel;
  if (t === undefined) return { kind: 'forwarded', response, target, meshCode };
  return { kind: 'upgraded', response: response as UpstreamResponse & { tunnel: SocketTunnel }, target, ...tunnel };
}
