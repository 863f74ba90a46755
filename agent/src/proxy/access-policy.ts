/**
 * What the proxy asks of access policy, declared here so that proxy/ never
 * imports policy/ (as route-policy.ts): agent/src/policy/policy-access-view.ts
 * implements it, agent.ts wires the two together.
 *
 * Access is decided by the agent that hands the request to the destination
 * instance: the inbound side for mesh traffic (a caller cannot skip it), and
 * the outbound side when the picked instance is on this host (the request
 * never crosses the inbound listener then). Both go through AccessGate
 * (access-gate.ts), which counts and logs the decision.
 */
import type { SourceIdentity } from '@weft/shared';
import type { Http1Request } from '../http1/server-message.js';

export type { SourceIdentity };

/** allow; deny (answered 403 forbidden); shadow_deny (a deny of a shadow-mode policy: logged and counted, let through). */
export type AccessDecisionKind = 'allow' | 'deny' | 'shadow_deny';

export interface AccessDecision {
  readonly decision: AccessDecisionKind;
  /** "orders/1" (the rule that decided) or "orders/default" (the mesh default decided). */
  readonly ruleId: string;
  /** One readable sentence naming the source, the service and the rule. */
  readonly reason: string;
}

export interface AccessPolicy {
  /**
   * Undefined when the access policy of `service` is known (held, or known
   * not to exist); else a promise that settles once it is, with undefined,
   * or with the reason it cannot be known (the control plane is not
   * reachable): the gate then refuses the request rather than guess.
   */
  ready(service: string): Promise<string | undefined> | undefined;
  /** The decision for one request; does no I/O and counts nothing. */
  decide(service: string, source: SourceIdentity | undefined, method: string, pathAndQuery: string): AccessDecision;
}

/**
 * Establishes who sent a request from its connection. The inbound listener
 * reads the caller from the verified mTLS certificate (peer-source.ts: an
 * agent, or a service of the calling agent; nothing under --insecure); the
 * outbound listener reads the local app's proxy credential (proxy-auth.ts).
 */
export type SourceIdentifier = (req: Http1Request) => SourceIdentity | undefined;

/** Access enforcement of one agent (AgentOptions.access). */
export interface AccessOptions {
  /** Decide access at all (on by default in the agent; `weft agent --no-access-enforcement` turns it off). */
  enforce: boolean;
  policy: AccessPolicy;
}
