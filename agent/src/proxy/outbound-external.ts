/**
 * Outbound to a host outside the mesh: the host an app calls is looked up
 * as a declared ExternalService (ExternalSource; lazily, like a service) and
 * the request goes straight to host:port, over TLS when the ExternalService
 * says `tls: true` (SNI and certificate name = host, node's CA store). It
 * gets what a mesh call gets: the request deadline, the retry loop with the
 * same write rules (a request that may have reached the server is re-sent
 * only when idempotent), the circuit breaker, retry budget and metrics of
 * the ExternalService's name, and the Routes/ServicePolicy written for that
 * name (a rule's `route` destinations do not apply: the host is the only one).
 * An undeclared host is answered `unknown_service` with how to declare it.
 */
import { type Endpoint, MeshError, MeshErrorCode, messageOf, undeclaredHostHint } from '@weft/shared';
import type { ExternalSource, ExternalTarget } from '../contracts.js';
import { Deadline } from './deadline.js';
import { sendOnce, settledFailure, type TrySend } from './forward.js';
import { type Exchange, GONE, meshFailure, type Verdict } from './forward-strategy.js';
import { admit, failedTry, outboundAttempt } from './outbound-steps.js';
import type { RequestTarget } from './request-target.js';
import { runWithRetries } from './retry-policy.js';
import { type RoutePolicy, RULE_HEADER } from './route-policy.js';
import type { ServiceResilienceMap } from './service-resilience.js';
import { sleep } from './sleep.js';
import { originOf, type UpstreamPools } from './upstream-pools.js';

export interface ExternalForwardDeps {
  agentId: string;
  externals?: ExternalSource;
  pools: UpstreamPools;
  services: ServiceResilienceMap;
  maxReplayBodyBytes: number;
  policy: RoutePolicy | undefined;
  /** True for host:port of this agent's own outbound listener: a call there would loop through the agent forever. */
  isSelf?: (host: string, port: number) => boolean;
}

const LOOPBACK_NAMES = new Set(['localhost', '::1', '[::1]']);

/** True for a host name or address that always means this host (127.0.0.0/8, localhost, ::1). */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || host.endsWith('.localhost') || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function loopMessage(host: string, port: number): string {
  return `host: ${host}:${port} is this agent's own outbound listener; call a service (http://<service>/) or an outside host through it`;
}

/** "external service payments: api.example.com:443 (TLS)" */
export function describeExternal(t: ExternalTarget): string {
  return `external service ${t.service}: ${t.host}:${t.port}${t.tls ? ' (TLS)' : ''}`;
}

/** The ExternalService for a host and port, undefined when none, a MeshError when it cannot be known now. */
export async function lookupExternal(externals: ExternalSource | undefined, host: string): Promise<ExternalTarget | undefined | MeshError> {
  if (externals === undefined) return undefined;
  try {
    const r = externals.lookup(host);
    return r instanceof Promise ? await r : r;
  } catch (err) {
    if (err instanceof MeshError) return err;
    return new MeshError(MeshErrorCode.controlPlaneUnavailable, `host ${host}: cannot look it up (${messageOf(err)})`);
  }
}

/** The port a request may name for `t`: none (the declared port is used) or the declared one. */
export function portMismatch(t: ExternalTarget, port: number | undefined, connect: boolean): string | undefined {
  if (port === undefined || port === t.port) return undefined;
  return (
    `${t.host}:${port}: ExternalService ${t.service} declares ${t.host} on port ${t.port} only` +
    `${connect ? '' : ` (call http://${t.host}/... and the agent connects to ${t.port}${t.tls ? ' with TLS' : ''})`}`
  );
}

export function externalForwarder(d: ExternalForwardDeps) {
  /** One endpoint per ExternalTarget (immutable, replaced when its document changes). */
  const endpoints = new WeakMap<ExternalTarget, Endpoint>();
  const endpointOf = (t: ExternalTarget): Endpoint => {
    let e = endpoints.get(t);
    if (e === undefined) {
      e = Object.freeze({
        service: t.service,
        instanceId: `${t.host}:${t.port}`,
        agentId: d.agentId,
        agentAddress: '',
        agentPort: 0,
        address: t.host,
        port: t.port,
        zone: '',
        weight: 1,
        tags: [],
        metadata: {},
        health: 'passing',
        protocol: 'http',
      } satisfies Endpoint);
      endpoints.set(t, e);
    }
    return e;
  };

  const sendTo =
    (t: ExternalTarget): TrySend =>
    (_endpoint, attempt) => {
      let pool: ReturnType<UpstreamPools['get']>;
      try {
        pool = t.tls
          ? d.pools.get(`https://${t.host}:${t.port}`, t.host, t.port, { tls: { servername: t.host } })
          : d.pools.get(originOf(t.host, t.port), t.host, t.port);
      } catch (error) {
        return settledFailure('reset', error);
      }
      const body = attempt.body === null ? null : attempt.body.nextStream();
      if (body === undefined) return settledFailure('aborted', new Error('request body can no longer be replayed'));
      return sendOnce(pool, {
        method: attempt.method,
        path: attempt.path,
        head: attempt.head,
        extraLines: '',
        body,
        timeoutMs: attempt.tryTimeoutMs,
        clientGone: attempt.clientGone,
        viaPeer: false,
      });
    };

  /** Forwards `ex` to the ExternalService declared for the target's host; `meshMiss` says the host was tried as a mesh service first. */
  return async (ex: Exchange, target: RequestTarget, meshMiss?: string): Promise<Verdict> => {
    const { req, res } = ex;
    if (target.port !== undefined && d.isSelf?.(target.host, target.port))
      return meshFailure(MeshErrorCode.badRequest, loopMessage(target.host, target.port));
    const found = await lookupExternal(d.externals, target.host);
    if (ex.clientGone.aborted) return GONE;
    if (found instanceof MeshError) return meshFailure(found.code, found.message);
    if (found === undefined) {
      const hint = undeclaredHostHint(target.host, target.port, false);
      return meshFailure(MeshErrorCode.unknownService, meshMiss ? `${meshMiss}.\n${hint}` : hint);
    }
    const t = found;
    const mismatch = portMismatch(t, target.port, false);
    if (mismatch !== undefined) return meshFailure(MeshErrorCode.unknownService, mismatch);
    if (d.isSelf?.(t.host, t.port)) return meshFailure(MeshErrorCode.badRequest, loopMessage(t.host, t.port));
    ex.fields.service = t.service;
    ex.fields.host = t.host;

    const plan = d.policy?.decide(t.service, req.method, target.path, req, target.authority) ?? null;
    if (plan?.respond) return { kind: 'policy', answer: plan };
    if (plan) res.setHeader(RULE_HEADER, plan.rule.label);
    const deadline = new Deadline(plan?.rule.timeoutMs ? Math.min(ex.budgetMs, plan.rule.timeoutMs) : ex.budgetMs);
    if (plan?.delayMs) await sleep(plan.delayMs, ex.clientGone);
    if (ex.clientGone.aborted) return GONE;

    const settings = d.policy?.settings(t.service);
    const svc = d.services.get(t.service, settings?.overrides);
    const refused = admit(ex, svc, t.service);
    if (refused !== undefined) return refused;

    // No x-forwarded-for: the caller's address is the host's business, not the outside world's.
    const attempt = outboundAttempt(ex, target, plan, {
      clientAddress: undefined,
      serviceSize: 1,
      deadline,
      maxReplayBodyBytes: d.maxReplayBodyBytes,
    });
    const endpoint = endpointOf(t);
    let result: Awaited<ReturnType<typeof runWithRetries>>;
    try {
      result = await runWithRetries(() => endpoint, sendTo(t), attempt, svc, plan?.rule.retry);
    } finally {
      svc.breaker.leavePending();
    }
    const { outcome } = result;
    if (result.tries > 1) ex.fields.tries = result.tries;
    const what = describeExternal(t);
    if (outcome === undefined) return meshFailure(MeshErrorCode.internal, `${what}: nothing was tried`);
    if (!outcome.ok) return failedTry(outcome, what, attempt);
    if (plan?.rule.source.responseHeaders !== undefined) d.policy?.editResponseHeaders(plan, outcome.response.headers);
    return { kind: 'forwarded', response: outcome.response, target: what, meshCode: '' };
  };
}
