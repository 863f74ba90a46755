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
    this.entries.set(service, Object.freeze({ service, version, endpoints: Object.freeze([...endpoints].sort(byInstanceId)) }));
  }

  /** Every service, sorted by name. */
  list(): ServiceEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
  }

  get size(): number {
    return this.entries.size;
  }
}
