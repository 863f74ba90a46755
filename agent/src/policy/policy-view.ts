/**
 * The agent's traffic policies: one compiled policy per service, replaced
 * whole when a new version arrives on "policy/<service>". A received version
 * is validated with the shared validator and compiled before it replaces
 * anything; if either fails, the resource is NACKed with the reason and the
 * previous version stays in force. The proxy reads it with one Map lookup.
 */
import {
  DEFAULT_ACCESS,
  type DefaultAccess,
  isResourceOfType,
  type Logger,
  MESH_SETTINGS_RESOURCE,
  messageOf,
  parsePolicyBundle,
  parseResourceName,
  policyResourceName,
  RESOURCE_TYPE_POLICY,
  serviceOfResource,
  validateDefaultAccess,
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

/** The control plane's "mesh/settings" as this agent holds them. */
export interface MeshSettings {
  version: string;
  defaultAccess: DefaultAccess;
}

export class PolicyView {
  private policies = new Map<string, CompiledPolicy>();
  /** Undefined until "mesh/settings" arrives (or is loaded from the snapshot): the built-in defaults apply. */
  private settings: MeshSettings | undefined;
  private settingsRejection: PolicyRejection | undefined;
  private readonly rejections = new Map<string, PolicyRejection>();
  private readonly log: Logger;

  constructor(logger: Logger) {
    this.log = logger.child({ component: 'policy' });
  }

  /** The policy in force for `service` (hot path: one Map lookup). */
  get(service: string): CompiledPolicy | undefined {
    return this.policies.get(service);
  }

  /** True for resource names this view handles: "policy/<service>" and "mesh/settings". */
  owns(name: string): boolean {
    return name === MESH_SETTINGS_RESOURCE || isResourceOfType(name, RESOURCE_TYPE_POLICY);
  }

  /** Names subscribed on every stream, whatever services are called. */
  baseNames(): string[] {
    return [MESH_SETTINGS_RESOURCE];
  }

  /** What no AccessPolicy rule decides: the control plane's --default-access (all-authenticated until it is known). */
  defaultAccess(): DefaultAccess {
    return this.settings?.defaultAccess ?? DEFAULT_ACCESS;
  }

  meshSettings(): { version: string | null; defaultAccess: DefaultAccess; rejected: PolicyRejection | null } {
    return { version: this.settings?.version ?? null, defaultAccess: this.defaultAccess(), rejected: this.settingsRejection ?? null };
  }

  /** Resource names to subscribe together with a service's endpoints. */
  namesFor(service: string): string[] {
    return [policyResourceName(service)];
  }

  /** name -> version of every policy held (initial_versions on reconnect). */
  versions(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const p of this.policies.values()) out[policyResourceName(p.service)] = p.version;
    if (this.settings) out[MESH_SETTINGS_RESOURCE] = this.settings.version;
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
      if (r.name === MESH_SETTINGS_RESOURCE) {
        const error = this.applySettings(r);
        if (error) errors.push(error);
        continue;
      }
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
      if (name === MESH_SETTINGS_RESOURCE) this.settings = undefined;
      const service = serviceOfResource(name, RESOURCE_TYPE_POLICY);
      if (service !== null) next.delete(service);
    }
    this.policies = next;
    return errors;
  }

  /** Every policy held and the mesh settings, as the resources they arrived in (for the persisted snapshot). */
  resources(): Resource__Output[] {
    const out = [...this.policies.values()].map((p) => ({
      name: policyResourceName(p.service),
      version: p.version,
      body: 'policy',
      policy: { service: p.service, json: JSON.stringify(p.bundle) },
    })) as Resource__Output[];
    if (this.settings)
      out.push({
        name: MESH_SETTINGS_RESOURCE,
        version: this.settings.version,
        body: 'mesh',
        mesh: { default_access: this.settings.defaultAccess },
      } as Resource__Output);
    return out;
  }

  /** Validates and applies "mesh/settings"; returns its NACK error (the previous settings stay). */
  private applySettings(r: Resource__Output): ResourceError | undefined {
    try {
      if (!r.version) throw new Error('version: is required');
      if (r.body !== 'mesh' || !r.mesh) throw new Error('body: "mesh/settings" must carry mesh');
      const defaultAccess = validateDefaultAccess(r.mesh.default_access, 'mesh.default_access');
      this.settings = { version: r.version, defaultAccess };
      this.settingsRejection = undefined;
      this.log.info('mesh settings', { version: r.version, defaultAccess });
      return undefined;
    } catch (err) {
      const message = messageOf(err);
      this.settingsRejection = { version: r.version, message, at: new Date().toISOString() };
      this.log.warn('mesh settings rejected; keeping the previous ones', { version: r.version, error: message });
      return { name: r.name, version: r.version, message };
    }
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
