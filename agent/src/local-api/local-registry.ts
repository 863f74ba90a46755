/**
 * The instances registered on this host: the agent's source of truth for
 * what the control plane should hold (RegistrationSource) and what the
 * inbound side may hand requests to (LocalInstances). Entries are replaced,
 * never mutated, so a reader always sees a consistent registration.
 *
 * The specs (not health or sync state) are persisted in
 * `<dataDir>/services.json` so a restarted agent registers them again.
 */
import { join } from 'node:path';
import {
  type Health,
  type InstanceSpec,
  isObject,
  type LocalServiceSpec,
  type Logger,
  messageOf,
  parseLocalServiceSpec,
} from '@weft/shared';
import type { LocalInstance, LocalInstances } from '../contracts.js';
import { CoalescingWriter, readFileIfExists } from '../discovery/atomic-file.js';
import type { RegistrationSource } from '../discovery/registration-sync.js';

export interface LocalRegistration {
  readonly spec: LocalServiceSpec & { id: string };
  /** What the control plane holds for it, with the current health. */
  readonly instance: InstanceSpec;
  readonly healthOutput: string;
  /** True once the control plane acknowledged the current state. */
  readonly synced: boolean;
  readonly syncError: string | undefined;
  readonly registeredAt: string;
}

export const SERVICES_FILE = 'services.json';
const FILE_VERSION = 1;

export class LocalRegistry implements LocalInstances, RegistrationSource {
  private readonly entries = new Map<string, LocalRegistration>();
  private readonly changeListeners = new Set<() => void>();
  private readonly writer: CoalescingWriter;

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
  ) {
    this.writer = new CoalescingWriter(
      join(dataDir, SERVICES_FILE),
      () => this.serialize(),
      (err) => this.logger.error('could not persist local registrations', { file: SERVICES_FILE, error: messageOf(err) }),
    );
  }

  get(instanceId: string): LocalInstance | undefined {
    const e = this.entries.get(instanceId);
    return (
      e && { instanceId, service: e.instance.service, address: e.instance.address, port: e.instance.port, protocol: e.instance.protocol }
    );
  }

  entry(instanceId: string): LocalRegistration | undefined {
    return this.entries.get(instanceId);
  }

  list(): LocalRegistration[] {
    return [...this.entries.values()].sort((a, b) => a.spec.id.localeCompare(b.spec.id));
  }

  instances(): InstanceSpec[] {
    return [...this.entries.values()].map((e) => e.instance);
  }

  /** Calls `listener` after a registration was added, removed or acknowledged by the control plane; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** The services with at least one registration the control plane acknowledged (they are hosted here). */
  hostedServices(): Set<string> {
    const out = new Set<string>();
    for (const e of this.entries.values()) if (e.synced) out.add(e.instance.service);
    return out;
  }

  /** Adds or replaces a registration and persists the spec list. */
  put(entry: LocalRegistration): void {
    this.entries.set(entry.spec.id, entry);
    void this.writer.save();
    this.changed();
  }

  remove(instanceId: string): boolean {
    const had = this.entries.delete(instanceId);
    if (had) {
      void this.writer.save();
      this.changed();
    }
    return had;
  }

  private changed(): void {
    for (const l of this.changeListeners) l();
  }

  /** Returns true when the health changed (and must be reported). */
  setHealth(instanceId: string, health: Health, output: string): boolean {
    const e = this.entries.get(instanceId);
    if (!e || (e.instance.health === health && e.healthOutput === output)) return false;
    const changed = e.instance.health !== health;
    this.entries.set(instanceId, { ...e, instance: { ...e.instance, health }, healthOutput: output, synced: changed ? false : e.synced });
    return changed;
  }

  markSynced(instanceIds: readonly string[], synced: boolean, error?: string): void {
    for (const id of instanceIds) {
      const e = this.entries.get(id);
      if (e) this.entries.set(id, { ...e, synced, syncError: synced ? undefined : error });
    }
    this.changed();
  }

  /** Resolves when the spec list on disk matches memory. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /**
   * Reads `services.json`; entries that no longer validate are logged and
   * skipped (a bad line must not keep the agent from starting).
   */
  async load(): Promise<(LocalServiceSpec & { id: string })[]> {
    const file = join(this.dataDir, SERVICES_FILE);
    let text: string | undefined;
    try {
      text = await readFileIfExists(file);
    } catch (err) {
      this.logger.error('could not read local registrations', { file, error: messageOf(err) });
      return [];
    }
    if (text === undefined) return [];
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      this.logger.error('ignoring unreadable local registrations file', { file, error: messageOf(err) });
      return [];
    }
    const list = isObject(raw) && Array.isArray(raw.services) ? raw.services : [];
    const out: (LocalServiceSpec & { id: string })[] = [];
    list.forEach((item: unknown, i: number) => {
      try {
        const spec = parseLocalServiceSpec(item);
        if (!spec.id) throw new Error('id: is required in services.json');
        out.push({ ...spec, id: spec.id });
      } catch (err) {
        this.logger.warn('skipping invalid persisted registration', { file, index: i, error: messageOf(err) });
      }
    });
    return out;
  }

  private serialize(): string {
    return `${JSON.stringify({ version: FILE_VERSION, services: this.list().map((e) => specToJson(e.spec)) }, null, 2)}\n`;
  }
}

/** A spec in the admin API's input form, so loading it goes through the same parser. */
export function specToJson(spec: LocalServiceSpec & { id: string }): Record<string, unknown> {
  const out: Record<string, unknown> = { name: spec.name, id: spec.id, address: spec.address, port: spec.port };
  if (spec.zone !== undefined) out.zone = spec.zone;
  out.weight = spec.weight;
  out.tags = spec.tags;
  out.metadata = spec.metadata;
  if (spec.protocol !== 'http') out.protocol = spec.protocol;
  if (spec.health) out.health = healthCheckToJson(spec.health);
  return out;
}

export function healthCheckToJson(h: NonNullable<LocalServiceSpec['health']>): Record<string, unknown> {
  const base = { interval: `${h.intervalMs}ms`, timeout: `${h.timeoutMs}ms` };
  return h.kind === 'http' ? { http: h.path, ...base } : { tcp: true, ...base };
}
