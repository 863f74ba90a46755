/**
 * From service name to a picker: asks the EndpointSource for the service's
 * snapshot and keeps one picker per service, rebuilt only when the snapshot
 * changes (a new version or a new endpoint list) or the service's
 * load-balancing policy changes (ServicePolicy.loadBalancer, via `choose`),
 * as grpc-node rebuilds its picker on each resolver update. Known services
 * resolve without a promise.
 */
import type { Endpoint } from '@weft/shared';
import type { EndpointSource, ServiceSnapshot } from '../contracts.js';
import type { LbPolicy, LoadView, Picker } from './lb-policy.js';

export interface Route {
  service: string;
  endpoints: readonly Endpoint[];
  picker: Picker;
  /** The policy that built `picker` (subsets of the service use it too). */
  lb: LbPolicy;
}

interface CacheEntry {
  snapshot: ServiceSnapshot;
  route: Route;
}

function isThenable<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown }).then === 'function';
}

export class Router {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly source: EndpointSource,
    private readonly policy: LbPolicy,
    private readonly load: LoadView,
    /** The service's own policy when it names one; undefined = `policy`. Called per request: must be a lookup. */
    private readonly choose: (service: string) => LbPolicy | undefined = () => undefined,
  ) {}

  /** The route for `service`; rejects (or throws) with the source's MeshError. */
  route(service: string): Route | Promise<Route> {
    const r = this.source.resolve(service);
    return isThenable(r) ? r.then((s) => this.routeFor(service, s)) : this.routeFor(service, r);
  }

  private routeFor(service: string, snapshot: ServiceSnapshot): Route {
    const cached = this.cache.get(service);
    const lb = this.choose(service) ?? this.policy;
    if (
      cached &&
      cached.route.lb === lb &&
      (cached.snapshot === snapshot || (cached.snapshot.version === snapshot.version && cached.snapshot.endpoints === snapshot.endpoints))
    ) {
      return cached.route;
    }
    const route: Route = { service, endpoints: snapshot.endpoints, picker: lb.createPicker(snapshot.endpoints, this.load), lb };
    this.cache.set(service, { snapshot, route });
    return route;
  }
}
