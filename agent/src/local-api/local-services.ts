/**
 * Registration of the services on this host: turns an admin-API spec into
 * an instance, keeps it in the LocalRegistry, runs its health check and
 * reports every change to the control plane through RegistrationSync.
 */
import type { Health, InstanceSpec, LocalServiceSpec, Logger } from '@weft/shared';
import type { RegistrationSync } from '../discovery/registration-sync.js';
import { HealthChecker, probeTcp } from './health-checker.js';
import type { LocalRegistration, LocalRegistry } from './local-registry.js';
import type { ProxyCredentials } from './proxy-credentials.js';
import { defaultHealthCheck, RegistrationExistsError, registrationChanges } from './registration-changes.js';

export interface LocalServicesOptions {
  agentId: string;
  /** The agent's zone, used when a spec gives none. */
  zone: string;
  registry: LocalRegistry;
  sync: RegistrationSync;
  logger: Logger;
  /** Proxy credentials handed to registering apps (proxy-credentials.ts); absent: none (--insecure). */
  credentials?: ProxyCredentials;
}

export interface RegisterResult {
  id: string;
  service: string;
  /** True when the control plane acknowledged the registration. */
  synced: boolean;
  /**
   * The app's proxy credential secret (username: the service name), new on
   * every registration of this instance id; absent under --insecure.
   */
  credential?: string;
  /** True when the id was registered already (the new registration replaced it). */
  replaced: boolean;
  /** What the replacement changed (`tags: [v1] -> []`); empty for a new or identical registration. */
  changes: string[];
  /** Set when nothing accepted a TCP connection on the instance's address and port at registration. */
  warning?: string;
}

/** How long registration waits to learn whether anything listens on the instance's port. */
const LISTEN_PROBE_MS = 500;

export class LocalServices {
  private readonly checker: HealthChecker;
  private readonly logger: Logger;
  private closed = false;

  constructor(private readonly options: LocalServicesOptions) {
    this.logger = options.logger.child({ component: 'local-services' });
    this.checker = new HealthChecker({ logger: this.logger, onChange: (id, health, output) => this.onHealth(id, health, output) });
  }

  /** Stable default id, so registering the same service and port again updates instead of duplicating. */
  defaultInstanceId(spec: LocalServiceSpec): string {
    return `${spec.name}-${this.options.agentId}-${spec.port}`;
  }

  /**
   * Registers or updates a local instance and waits (bounded by the sync's
   * call deadline) for the control plane. Throws a ValidationError when the
   * control plane rejects it; nothing is kept then.
   */
  async register(input: LocalServiceSpec, opts: { replace?: boolean } = {}): Promise<RegisterResult> {
    const id = input.id ?? this.defaultInstanceId(input);
    // No check given: a TCP connect check, so an instance whose port has nothing listening never counts as passing.
    const spec = { ...input, id, health: input.health ?? defaultHealthCheck() };
    const previous = this.options.registry.entry(id);
    const changes = previous === undefined ? [] : registrationChanges(previous.spec, spec);
    if (changes.length > 0 && opts.replace === false) throw new RegistrationExistsError(id, changes);
    const listening = probeTcp({ address: spec.address, port: spec.port }, LISTEN_PROBE_MS, AbortSignal.timeout(LISTEN_PROBE_MS * 2));
    // The running check (and the health it found) survives a re-register that does not change what it probes.
    const keepCheck =
      previous !== undefined &&
      spec.health !== undefined &&
      JSON.stringify(previous.spec.health) === JSON.stringify(spec.health) &&
      previous.spec.address === spec.address &&
      previous.spec.port === spec.port &&
      this.checker.status(id) !== undefined;
    const health: Health = !spec.health ? 'passing' : keepCheck ? (previous?.instance.health ?? 'unknown') : 'unknown';
    const instance = this.instanceOf(spec, id, health);
    const entry: LocalRegistration = {
      spec,
      instance,
      healthOutput: keepCheck ? (previous?.healthOutput ?? '') : '',
      synced: false,
      syncError: undefined,
      registeredAt: previous?.registeredAt ?? new Date().toISOString(),
    };
    const synced = await this.options.sync.register(instance, () => {
      this.options.registry.put(entry);
      if (!keepCheck) this.startCheck(entry);
    });
    const probe = await listening;
    const warning =
      probe.outcome === 'success'
        ? undefined
        : `nothing accepts connections on ${spec.address}:${spec.port} yet (${probe.output}); the instance gets no traffic until its health check passes`;
    if (changes.length > 0) this.logger.info('replaced local instance', { service: spec.name, instanceId: id, changes });
    this.logger.info('registered local instance', { service: spec.name, instanceId: id, port: spec.port, synced });
    if (warning !== undefined) this.logger.warn('registered instance is not listening', { service: spec.name, instanceId: id, warning });
    // Registered (kept) even when not yet synced: the credential is this instance's from now on.
    const credential = this.options.credentials?.issue(spec.name, id);
    return {
      id,
      service: spec.name,
      synced,
      replaced: previous !== undefined,
      changes,
      ...(warning === undefined ? {} : { warning }),
      ...(credential !== undefined && { credential }),
    };
  }

  /** Removes a local instance; false when it was not registered here. */
  async deregister(id: string): Promise<{ removed: boolean; synced: boolean }> {
    if (!this.options.registry.entry(id)) return { removed: false, synced: true };
    const synced = await this.options.sync.deregister([id], () => {
      this.checker.unwatch(id);
      this.options.registry.remove(id);
      this.options.credentials?.drop(id);
    });
    this.logger.info('deregistered local instance', { instanceId: id, synced });
    return { removed: true, synced };
  }

  /** The instance the control plane gets for a local registration (zone defaults to the agent's). */
  private instanceOf(spec: LocalServiceSpec, instanceId: string, health: Health): InstanceSpec {
    return {
      service: spec.name,
      instanceId,
      address: spec.address,
      port: spec.port,
      zone: spec.zone ?? this.options.zone,
      weight: spec.weight,
      protocol: spec.protocol,
      tags: spec.tags,
      metadata: spec.metadata,
      health,
    };
  }

  /** Re-adds registrations persisted by an earlier run; they reach the control plane with the first full sync. */
  restore(specs: readonly (LocalServiceSpec & { id: string })[]): void {
    for (const persisted of specs) {
      const spec = { ...persisted, health: persisted.health ?? defaultHealthCheck() };
      const entry: LocalRegistration = {
        spec,
        instance: this.instanceOf(spec, spec.id, spec.health ? 'unknown' : 'passing'),
        healthOutput: '',
        synced: false,
        syncError: undefined,
        registeredAt: new Date().toISOString(),
      };
      this.options.registry.put(entry);
      this.startCheck(entry);
    }
    if (specs.length > 0) this.logger.info('restored local registrations', { count: specs.length });
  }

  list(): LocalRegistration[] {
    return this.options.registry.list();
  }

  /** Stops every health check (before the agent deregisters on shutdown). */
  close(): void {
    this.closed = true;
    this.checker.close();
  }

  private startCheck(entry: LocalRegistration): void {
    const { spec } = entry;
    if (spec.health) this.checker.watch(spec.id, { address: spec.address, port: spec.port }, spec.health);
    else this.checker.unwatch(spec.id);
  }

  private onHealth(id: string, health: Health, output: string): void {
    if (this.closed) return;
    if (!this.options.registry.setHealth(id, health, output)) return;
    void this.options.sync.setHealth(id, health, output).catch(() => {});
  }
}
