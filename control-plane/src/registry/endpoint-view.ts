/**
 * The in-memory, versioned view of every service's endpoints: what the
 * discovery streams and the read APIs serve. Entries are immutable and
 * replaced whole on change, so a reader (or a translation cache keyed by the
 * entry object) never sees a half-updated list.
 */
import type { AgentInfo, Endpoint, Instance } from '@weft/shared';

export interface ServiceEntry {
  readonly service: string;
  /** The global revision at which this service last changed, as an opaque string. */
  readonly version: string;
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
  return {
    ...instance,
    zone: instance.zone || agent?.zone || '',
    agentAddress: agent?.address ?? '',
    agentPort: agent?.inboundPort ?? 0,
  };
}

const byInstanceId = (a: Endpoint, b: Endpoint) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0);

/** Index of the first endpoint whose id is >= `id` (binary search; `list` is sorted by id). */
function indexOf(list: readonly Endpoint[], id: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].instanceId < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class EndpointView {
  private readonly entries = new Map<string, ServiceEntry>();

  get(service: string): ServiceEntry | undefined {
    return this.entries.get(service);
  }

  /** Replaces a service's entry; a service without endpoints is dropped (it "does not exist"). */
  set(service: string, version: string, endpoints: readonly Endpoint[]): void {
    if (endpoints.length === 0) {
      this.entries.delete(service);
      return;
    }
    this.entries.set(
      service,
      Object.freeze({ service, version, endpoints: Object.freeze([...endpoints].sort(byInstanceId)), madeAt: performance.now() }),
    );
  }

  /**
   * Applies per-instance changes to a service's entry without re-sorting it:
   * `upserts` replace or insert by instance id, `removedIds` drop. The entry
   * is copied once (entries stay immutable); cost O(n + k log n).
   */
  patch(service: string, version: string, upserts: readonly Endpoint[], removedIds: readonly string[]): void {
    const list = [...(this.entries.get(service)?.endpoints ?? [])];
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
    this.entries.set(service, Object.freeze({ service, version, endpoints: Object.freeze(list), madeAt: performance.now() }));
  }

  /** Every service, sorted by name. */
  list(): ServiceEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
  }

  get size(): number {
    return this.entries.size;
  }
}
