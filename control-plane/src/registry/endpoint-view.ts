/**
 * The in-memory, versioned view of every service's endpoints: what the
 * discovery streams and the read APIs serve. Entries are immutable and
 * replaced whole on change, so a reader (or a translation cache keyed by the
 * entry object) never sees a half-updated list.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AgentInfo, Endpoint, Instance } from '@weft/shared';

export interface ServiceEntry {
  readonly service: string;
  /**
   * The resource version the streams send, an opaque string: the revision,
   * or `<revision>.1` when a read replaced an entry of the same revision with
   * other content (replicas, see `completeAt`), so no version is ever sent
   * for two different contents.
   */
  readonly version: string;
  /** The global revision at which this service last changed. */
  readonly revision: number;
  /**
   * Every committed change to this service up to this revision is in the
   * entry: an entry read from the store is complete at its revision. An entry
   * patched with this process's own commit keeps its base's value, because on
   * a shared store another replica may have committed to the service between
   * the base and the patch (its notice not read yet); a later read settles it
   * (Registry.reloadServices).
   */
  readonly completeAt: number;
  /** Sorted by instance id. */
  readonly endpoints: readonly Endpoint[];
  /** performance.now() when this entry was made (right after its change committed): push-latency metrics. */
  readonly madeAt: number;
}

/**
 * Joins an instance with its owning agent: the mesh hop goes to the agent's
 * address and inbound port. An instance without its own zone is in its host's zone.
 */
export function toEndpoint(instance: Instance, agent: AgentInfo | undefined): Endpoint {
  // Every field named, in one order: every endpoint then has the same hidden class, whichever path made the
  // instance (a row read, a registration), so the code reading endpoints (sorting, comparing, encoding) stays
  // monomorphic. Spreading the instance gave endpoints of several shapes and megamorphic loads.
  return {
    service: instance.service,
    instanceId: instance.instanceId,
    agentId: instance.agentId,
    address: instance.address,
    port: instance.port,
    zone: instance.zone || agent?.zone || '',
    weight: instance.weight,
    tags: instance.tags,
    metadata: instance.metadata,
    health: instance.health,
    protocol: instance.protocol,
    agentAddress: agent?.address ?? '',
    agentPort: agent?.inboundPort ?? 0,
  };
}

const byInstanceId = (a: Endpoint, b: Endpoint) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0);

/** `list` sorted by instance id, in place; a list already in order (what merges and reads give) is only checked. */
function sortInPlace(list: Endpoint[]): Endpoint[] {
  for (let i = 1; i < list.length; i++) if (list[i - 1].instanceId > list[i].instanceId) return list.sort(byInstanceId);
  return list;
}

/** Index of the first endpoint whose id is >= `id` (binary search; `list` is sorted by id). */
export function indexOf(list: readonly Endpoint[], id: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].instanceId < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** True when two endpoints say the same to an agent: every field the streams send. */
function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return (
    a.instanceId === b.instanceId &&
    a.service === b.service &&
    a.agentId === b.agentId &&
    a.agentAddress === b.agentAddress &&
    a.agentPort === b.agentPort &&
    a.address === b.address &&
    a.port === b.port &&
    a.zone === b.zone &&
    a.weight === b.weight &&
    a.health === b.health &&
    a.protocol === b.protocol &&
    isDeepStrictEqual(a.tags, b.tags) &&
    isDeepStrictEqual(a.metadata, b.metadata)
  );
}

/** True when both lists hold the same endpoints, field for field (`a` sorted by instance id; `b` in any order). */
export function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  const sorted = [...b].sort(byInstanceId);
  return a.every((e, i) => sameEndpoint(e, sorted[i]));
}

export class EndpointView {
  private readonly entries = new Map<string, ServiceEntry>();

  get(service: string): ServiceEntry | undefined {
    return this.entries.get(service);
  }

  /**
   * Replaces a service's entry with one read whole (complete at `revision`,
   * published as `version`); a service without endpoints is dropped (it
   * "does not exist"). The entry takes `endpoints` itself (sorted and frozen
   * in place, not copied): callers pass a list made for it and keep no
   * reference.
   */
  set(service: string, revision: number, endpoints: Endpoint[], version = String(revision)): void {
    if (endpoints.length === 0) {
      this.entries.delete(service);
      return;
    }
    this.entries.set(
      service,
      Object.freeze({
        service,
        version,
        revision,
        completeAt: revision,
        endpoints: Object.freeze(sortInPlace(endpoints)),
        madeAt: performance.now(),
      }),
    );
  }

  /** Marks a held entry complete at its revision (a read found the same content), keeping its version. */
  confirm(service: string): void {
    const e = this.entries.get(service);
    if (e && e.completeAt < e.revision) this.entries.set(service, Object.freeze({ ...e, completeAt: e.revision }));
  }

  /**
   * Applies this process's own commit at `revision` to a service's entry
   * without re-sorting it: `upserts` replace or insert by instance id,
   * `removedIds` drop. The entry is copied once (entries stay immutable);
   * cost O(n + k log n). `completeAt` stays the base's unless `complete`
   * (the store has a single writer, so nothing can have come in between).
   */
  patch(service: string, revision: number, upserts: readonly Endpoint[], removedIds: readonly string[], complete: boolean): void {
    const base = this.entries.get(service);
    const list = [...(base?.endpoints ?? [])];
    for (const id of removedIds) {
      const i = indexOf(list, id);
      if (i < list.length && list[i].instanceId === id) list.splice(i, 1);
    }
    for (const ep of upserts) {
      const i = indexOf(list, ep.instanceId);
      if (i < list.length && list[i].instanceId === ep.instanceId) list[i] = ep;
      else list.splice(i, 0, ep);
    }
    if (list.length === 0) {
      this.entries.delete(service);
      return;
    }
    this.entries.set(
      service,
      Object.freeze({
        service,
        version: String(revision),
        revision,
        completeAt: complete ? revision : (base?.completeAt ?? 0),
        endpoints: Object.freeze(list),
        madeAt: performance.now(),
      }),
    );
  }

  /** Every service, sorted by name. */
  list(): ServiceEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
  }

  get size(): number {
    return this.entries.size;
  }
}
