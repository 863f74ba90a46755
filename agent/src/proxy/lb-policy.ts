/**
 * Load-balancing policies: an interface plus a registry (grpc-node style).
 * A policy never does I/O. It is handed one immutable endpoint list and
 * returns a Picker; the proxy calls pick() once per try and does the sending
 * itself. Pickers read live load and ejection state through a LoadView, so a
 * picker built for one snapshot version stays valid until the next version.
 * Adding a policy is adding an lb-*.ts file that calls registerLbPolicy.
 */
import type { Endpoint } from '@weft/shared';

/** Live per-endpoint state the proxy keeps; read-only for pickers. */
export interface LoadView {
  /** Requests in flight to this endpoint now (including those streaming a body). */
  active(instanceId: string): number;
  /** True while the outlier detector keeps this endpoint out. */
  isEjected(instanceId: string): boolean;
}

export interface PickRequest {
  /** Endpoints already tried by this request; a retry must go elsewhere. */
  exclude?: ReadonlySet<string>;
  /**
   * The request's affinity key (consistent-hash: the configured header or
   * cookie, extracted by the proxy); undefined when the request has none.
   * Policies that do not hash ignore it.
   */
  hashKey?: string;
}

export interface Picker {
  /** An endpoint for one try, or undefined when no candidate is left. Must not block or do I/O. */
  pick(request?: PickRequest): Endpoint | undefined;
}

export interface LbPolicy {
  readonly name: string;
  /** Called once per snapshot version of a service; the result is cached by the proxy. */
  createPicker(endpoints: readonly Endpoint[], load: LoadView): Picker;
}

const policies = new Map<string, LbPolicy>();

export function registerLbPolicy(policy: LbPolicy): void {
  policies.set(policy.name, policy);
}

/** The registered policy called `name`, or undefined. */
export function findLbPolicy(name: string): LbPolicy | undefined {
  return policies.get(name);
}

export function getLbPolicy(name: string): LbPolicy {
  const p = policies.get(name);
  if (!p) throw new Error(`unknown load-balancing policy ${JSON.stringify(name)} (known: ${[...policies.keys()].join(', ')})`);
  return p;
}

/**
 * The endpoints a policy may choose from: passing and warning ones; only when
 * there are none, those whose health is not known yet; never critical ones.
 */
export function healthyTier(endpoints: readonly Endpoint[]): readonly Endpoint[] {
  const up = endpoints.filter((e) => e.health === 'passing' || e.health === 'warning');
  return up.length > 0 ? up : endpoints.filter((e) => e.health === 'unknown');
}

/**
 * `tier` without ejected endpoints, unless more than half of it is ejected:
 * then ejection is ignored (the endpoint set shrank since the ejections, and
 * sending to a maybe-bad endpoint beats refusing the request).
 */
export function withoutEjected(tier: readonly Endpoint[], load: LoadView): readonly Endpoint[] {
  const kept = tier.filter((e) => !load.isEjected(e.instanceId));
  return tier.length - kept.length <= Math.floor(tier.length / 2) ? kept : tier;
}

/** One line describing why nothing could be picked, e.g. "3 endpoints: 2 critical, 1 unknown". */
export function describeHealth(endpoints: readonly Endpoint[]): string {
  if (endpoints.length === 0) return 'no endpoints registered';
  const counts = new Map<string, number>();
  for (const e of endpoints) counts.set(e.health, (counts.get(e.health) ?? 0) + 1);
  const parts = [...counts].map(([h, n]) => `${n} ${h}`);
  return `${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
}
