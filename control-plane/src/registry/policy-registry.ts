/**
 * Traffic policy between the store and the servers: validation of what an
 * operator applies (the shared validator, then cross-reference warnings from
 * the registry), one store transaction per call, and the in-memory versioned
 * "policy/<service>" entries the discovery streams serve. Like the endpoint
 * view, entries are immutable and replaced on change, and watchers of exactly
 * the changed services are notified after the commit.
 */
import {
  crossReferenceWarnings,
  KIND_ACCESS_POLICY,
  KIND_EXTERNAL_SERVICE,
  KIND_ROUTES,
  type Logger,
  NotFoundError,
  POLICY_KINDS,
  type PolicyBundle,
  type PolicyDocument,
  type PolicyKind,
  type RegistryFacts,
  type SourcedDocument,
  ValidationError,
  validateServiceName,
  validateSourcedDocuments,
} from '@weft/shared';
import type { PolicyChange, PolicyStoreContract, PolicyWrite, StoredPolicy } from '../store/store-contract.js';
import { checkExternalHosts, ExternalIndex } from './external-index.js';
import { type Watcher, WatchIndex } from './watch-index.js';

export interface PolicyEntry {
  readonly service: string;
  /** The config revision at which this service's policy last changed. */
  readonly version: string;
  /** JSON of the PolicyBundle: what the agent receives. */
  readonly json: string;
}

export interface PolicyResult {
  revision: number;
  changes: PolicyChange[];
  warnings: string[];
  dryRun: boolean;
}

export class PolicyRegistry {
  private readonly entries = new Map<string, PolicyEntry>();
  private readonly watches = new WatchIndex();
  /** ExternalService documents by host ("external/<host>"). */
  readonly externals = new ExternalIndex();
  /** What is in force, as last read from the store (start, after each commit, on reload). */
  private stored: StoredPolicy[] = [];

  constructor(
    private readonly store: PolicyStoreContract,
    private readonly facts: RegistryFacts,
    private readonly log: Logger,
  ) {}

  /** Builds every entry from the store. */
  async start(): Promise<void> {
    await this.store.refreshRevision();
    this.stored = await this.store.list();
    const services = new Set(this.stored.map((p) => p.service));
    for (const s of services) this.rebuild(s);
    this.externals.rebuild(this.stored);
    this.log.info('policy loaded', { configRevision: this.store.revision(), services: services.size });
  }

  /**
   * Seam for replicas: another process committed a config change. Re-reads
   * what is in force, rebuilds the entries that differ and notifies their
   * watchers.
   */
  async reload(): Promise<string[]> {
    await this.store.refreshRevision();
    const before = new Map(this.stored.map((p) => [`${p.service}\u0000${p.kind}`, p.json]));
    this.stored = await this.store.list();
    const after = new Map(this.stored.map((p) => [`${p.service}\u0000${p.kind}`, p.json]));
    const changed = new Set<string>();
    for (const [k, json] of after) if (before.get(k) !== json) changed.add(k.split('\u0000')[0]);
    for (const k of before.keys()) if (!after.has(k)) changed.add(k.split('\u0000')[0]);
    const services = [...changed].sort();
    for (const s of services) this.rebuild(s);
    this.externals.rebuild(this.stored);
    if (services.length > 0) this.watches.notify(services);
    return services;
  }

  revision(): number {
    return this.store.revision();
  }

  entry(service: string): PolicyEntry | undefined {
    return this.entries.get(service);
  }

  addWatcher(service: string, watcher: Watcher): void {
    this.watches.addWatcher(service, watcher);
  }

  removeWatcher(service: string, watcher: Watcher): void {
    this.watches.removeWatcher(service, watcher);
  }

  list(service?: string, kind?: string): StoredPolicy[] {
    if (kind && !(POLICY_KINDS as readonly string[]).includes(kind))
      throw new ValidationError('kind', `must be one of ${POLICY_KINDS.join(', ')}`);
    return this.stored.filter((p) => (!service || p.service === service) && (!kind || p.kind === kind));
  }

  /** Validates every document (one error listing every problem, each naming source and field), then stores them all or nothing. */
  async apply(docs: readonly SourcedDocument[], dryRun: boolean): Promise<PolicyResult> {
    if (docs.length === 0) throw new ValidationError('documents', 'no documents to apply');
    const valid = validateSourcedDocuments(docs);
    // An ExternalService (stored or in this batch) is a destination that exists without instances.
    const externals = new Set(this.list(undefined, KIND_EXTERNAL_SERVICE).map((p) => p.service));
    for (const { doc } of valid) if (doc.kind === KIND_EXTERNAL_SERVICE) externals.add(doc.metadata.service);
    const warnings = crossReferenceWarnings(valid, {
      instanceTags: (s) => this.facts.instanceTags(s) ?? (externals.has(s) ? [] : undefined),
    });
    const writes: PolicyWrite[] = valid.map(({ doc }) => ({ service: doc.metadata.service, kind: doc.kind, json: JSON.stringify(doc) }));
    return this.write(writes, dryRun, 'apply', warnings);
  }

  async delete(service: string, kind: string, dryRun: boolean): Promise<PolicyResult> {
    validateServiceName(service, 'service');
    const stored = this.list(service, kind || undefined);
    if (stored.length === 0) throw new NotFoundError(`service: no ${kind || 'policy'} stored for "${service}"`);
    return this.write(
      stored.map((p) => ({ service: p.service, kind: p.kind, json: null })),
      dryRun,
      `delete ${kind || 'all'} ${service}`,
      [],
    );
  }

  async rollback(revision: number, dryRun: boolean): Promise<PolicyResult> {
    const current = await this.store.refreshRevision();
    if (!Number.isInteger(revision) || revision < 0 || revision > current || !(await this.store.hasRevision(revision))) {
      throw new ValidationError('revision', `no config revision ${revision} (current is ${current})`);
    }
    return this.write(await this.store.writesToRestore(revision), dryRun, `rollback to ${revision}`, []);
  }

  history(service: string | undefined, limit: number) {
    return this.store.history(service || undefined, limit > 0 ? Math.min(limit, 1000) : 50);
  }

  private async write(writes: PolicyWrite[], dryRun: boolean, description: string, warnings: string[]): Promise<PolicyResult> {
    checkExternalHosts(this.stored, writes);
    if (dryRun) return { revision: this.store.revision(), changes: await this.store.plan(writes), warnings, dryRun };
    const { revision, changes } = await this.store.commit(writes, description);
    this.stored = await this.store.list();
    const changed = [...new Set(changes.filter((c) => c.action !== 'unchanged').map((c) => c.service))].sort();
    for (const s of changed) this.rebuild(s);
    if (changes.some((c) => c.action !== 'unchanged' && c.kind === KIND_EXTERNAL_SERVICE)) this.externals.rebuild(this.stored);
    if (changed.length > 0) {
      this.log.info('policy changed', { configRevision: revision, description, services: changed });
      this.watches.notify(changed);
    }
    return { revision, changes, warnings, dryRun };
  }

  private rebuild(service: string): void {
    // An ExternalService is served by host ("external/<host>", external-index.ts), not in the service's bundle.
    const stored = this.stored.filter((p) => p.service === service && p.kind !== KIND_EXTERNAL_SERVICE);
    if (stored.length === 0) {
      this.entries.delete(service);
      return;
    }
    const bundle: PolicyBundle = { service };
    let version = 0;
    for (const p of stored) {
      version = Math.max(version, p.revision);
      const doc = JSON.parse(p.json) as PolicyDocument;
      if (doc.kind === KIND_ROUTES) bundle.routes = doc;
      else if (doc.kind === KIND_ACCESS_POLICY) bundle.access = doc;
      else if (doc.kind !== KIND_EXTERNAL_SERVICE) bundle.policy = doc;
    }
    this.entries.set(service, Object.freeze({ service, version: String(version), json: JSON.stringify(bundle) }));
  }
}

/**
 * Parses the documents of an ApplyConfig request (JSON text each). A document
 * that is not JSON carries its parse problem, so validation reports it
 * together with every other document's problems.
 */
export function parseConfigDocuments(docs: readonly { source?: string; json?: string }[]): SourcedDocument[] {
  return docs.map((d, i) => {
    const source = d.source?.slice(0, 300) || `documents[${i}]`;
    try {
      return { source, raw: JSON.parse(d.json ?? '') as unknown };
    } catch (err) {
      return { source, raw: undefined, parseProblems: [{ problem: `invalid JSON (${(err as Error).message})` }] };
    }
  });
}

export type { PolicyKind };
