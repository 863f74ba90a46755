/**
 * The ExternalService documents in force, indexed by the host they declare:
 * the "external/<host>" resources of the discovery stream. Rebuilt from the
 * stored documents after every config commit (they are few, a host
 * allowlist); watchers of exactly the hosts whose entry changed are
 * notified. Entries are immutable and replaced on change, like policy entries.
 */
import { type ExternalServiceDocument, KIND_EXTERNAL_SERVICE, ValidationError } from '@weft/shared';
import type { PolicyWrite, StoredPolicy } from '../store/policy-store.js';
import { type Watcher, WatchIndex } from './watch-index.js';

export interface ExternalEntry {
  readonly host: string;
  readonly service: string;
  /** The config revision at which this host's document last changed. */
  readonly version: string;
  /** The validated document's JSON: what the agent receives. */
  readonly externalJson: string;
}

export class ExternalIndex {
  private byHost = new Map<string, ExternalEntry>();
  private readonly watches = new WatchIndex();

  entry(host: string): ExternalEntry | undefined {
    return this.byHost.get(host);
  }

  addWatcher(host: string, watcher: Watcher): void {
    this.watches.addWatcher(host, watcher);
  }

  removeWatcher(host: string, watcher: Watcher): void {
    this.watches.removeWatcher(host, watcher);
  }

  /** Replaces the index with what `stored` holds; returns the hosts whose entry changed, after notifying their watchers. */
  rebuild(stored: readonly StoredPolicy[]): string[] {
    const next = new Map<string, ExternalEntry>();
    for (const p of stored) {
      if (p.kind !== KIND_EXTERNAL_SERVICE) continue;
      const doc = JSON.parse(p.json) as ExternalServiceDocument;
      next.set(doc.host, Object.freeze({ host: doc.host, service: p.service, version: String(p.revision), externalJson: p.json }));
    }
    const changed: string[] = [];
    for (const [host, e] of next) if (this.byHost.get(host)?.version !== e.version) changed.push(host);
    for (const host of this.byHost.keys()) if (!next.has(host)) changed.push(host);
    this.byHost = next;
    this.watches.notify(changed);
    return changed;
  }
}

/**
 * Refuses a set of writes that would leave two ExternalService documents
 * declaring the same host (the host is how an agent finds one): every
 * conflict at once, naming both services.
 */
export function checkExternalHosts(stored: readonly StoredPolicy[], writes: readonly PolicyWrite[]): void {
  // Documents kept as they are first, so a conflict names the one being written as the newcomer.
  const written = new Map<string, string | null>();
  for (const w of writes) if (w.kind === KIND_EXTERNAL_SERVICE) written.set(w.service, w.json);
  const after: [string, string | null][] = [];
  for (const p of stored) if (p.kind === KIND_EXTERNAL_SERVICE && !written.has(p.service)) after.push([p.service, p.json]);
  after.push(...written);
  const owner = new Map<string, string>();
  const problems: string[] = [];
  for (const [service, json] of after) {
    if (json === null) continue;
    const { host } = JSON.parse(json) as ExternalServiceDocument;
    const first = owner.get(host);
    if (first === undefined) owner.set(host, service);
    else
      problems.push(
        `ExternalService ${service}: host: ${host} is already declared by ExternalService ${first} (one ExternalService per host)`,
      );
  }
  if (problems.length > 0) throw new ValidationError('', problems.join('\n'));
}
