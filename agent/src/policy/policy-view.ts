/**
 * The agent's traffic policies: one compiled policy per service, replaced
 * whole when a new version arrives on "policy/<service>". A received version
 * is validated with the shared validator and compiled before it replaces
 * anything; if either fails, the resource is NACKed with the reason and the
 * previous version stays in force. The proxy reads it with one Map lookup.
 */
import {
  isResourceOfType,
  type Logger,
  messageOf,
  parsePolicyBundle,
  parseResourceName,
  policyResourceName,
  RESOURCE_TYPE_POLICY,
  serviceOfResource,
  validateServiceName,
} from '@weft/shared';
import type { Resource__Output } from '@weft/shared/generated/weft/v1/Resource';
import type { ResourceError } from '@weft/shared/generated/weft/v1/ResourceError';
import { type CompiledPolicy, compilePolicy } from './policy-compile.js';

export interface PolicyRejection {
  version: string;
  message: string;
  at: string;
}

export class PolicyView {
  private policies = new Map<string, CompiledPolicy>();
  private readonly rejections = new Map<string, PolicyRejection>();
  private readonly log: Logger;

  constructor(logger: Logger) {
    this.log = logger.child({ component: 'policy' });
  }

  /** The policy in force for `service` (hot path: one Map lookup). */
  get(service: string): CompiledPolicy | undefined {
    return this.policies.get(service);
  }

  /** True for resource names this view handles. */
  owns(name: string): boolean {
    return isResourceOfType(name, RESOURCE_TYPE_POLICY);
  }

  /** Resource names to subscribe together with a service's endpoints. */
  namesFor(service: string): string[] {
    return [policyResourceName(service)];
  }

  /** name -> version of every policy held (initial_versions on reconnect). */
  versions(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const p of this.policies.values()) out[policyResourceName(p.service)] = p.version;
    return out;
  }

  /**
   * Applies one response's policy resources, removals and not-founds;
   * returns the NACK errors. Valid resources replace their service's policy
   * in one step; rejected ones leave it as it was.
   */
  apply(resources: readonly Resource__Output[], removed: readonly string[], notFound: readonly string[]): ResourceError[] {
    const errors: ResourceError[] = [];
    const next = new Map(this.policies);
    for (const r of resources) {
      const parsed = parseResourceName(r.name);
      const service = parsed?.type === RESOURCE_TYPE_POLICY ? parsed.service : '';
      try {
        // Validated here rather than with serviceOfResource so the NACK says what is wrong with the name.
        validateServiceName(service, 'name');
        if (!r.version) throw new Error('version: is required');
        if (r.body !== 'policy' || !r.policy) throw new Error('body: a "policy/..." resource must carry policy');
        if (r.policy.service !== service)
          throw new Error(`policy.service: ${JSON.stringify(r.policy.service)} does not match "${service}"`);
        const bundle = parsePolicyBundle(r.policy.json, service);
        next.set(service, compilePolicy(bundle, r.version));
        this.rejections.delete(service);
      } catch (err) {
        const message = messageOf(err);
        errors.push({ name: r.name, version: r.version, message });
        this.rejections.set(service, { version: r.version, message, at: new Date().toISOString() });
        this.log.warn('policy rejected; keeping the previous version', {
          service,
          version: r.version,
          kept: this.policies.get(service)?.version ?? null,
          error: message,
        });
      }
    }
    for (const name of [...removed, ...notFound]) {
      const service = serviceOfResource(name, RESOURCE_TYPE_POLICY);
      if (service !== null) next.delete(service);
    }
    this.policies = next;
    return errors;
  }

  /** Every policy held, as the resource it arrived in (for the persisted snapshot). */
  resources(): Resource__Output[] {
    return [...this.policies.values()].map((p) => ({
      name: policyResourceName(p.service),
      version: p.version,
      body: 'policy',
      policy: { service: p.service, json: JSON.stringify(p.bundle) },
    })) as Resource__Output[];
  }

  /** For /config and explain. */
  dump(): Record<string, { version: string; rules: number; rejected: PolicyRejection | null }> {
    const out: Record<string, { version: string; rules: number; rejected: PolicyRejection | null }> = {};
    const names = new Set([...this.policies.keys(), ...this.rejections.keys()]);
    for (const s of [...names].sort()) {
      const p = this.policies.get(s);
      out[s] = { version: p?.version ?? '', rules: p?.rules.length ?? 0, rejected: this.rejections.get(s) ?? null };
    }
    return out;
  }

  rejection(service: string): PolicyRejection | undefined {
    return this.rejections.get(service);
  }
}
