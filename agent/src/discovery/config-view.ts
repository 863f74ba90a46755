/**
 * The agent's view of the mesh: one immutable ServiceSnapshot per service,
 * replaced (never mutated) when the discovery stream delivers a new version.
 * The proxy reads it through EndpointSource; the discovery client writes it
 * through apply(). This file knows no gRPC: the stream is behind
 * SubscriptionLink, so the view is pure state (go-control-plane's cache /
 * server split).
 */
import { type Endpoint, endpointsResourceName, type Logger, MeshError, MeshErrorCode, messageOf, validateServiceName } from '@weft/shared';
import type { EndpointSource, ServiceSnapshot } from '../contracts.js';
import type { IdleTarget } from './idle-subscriptions.js';

/** The discovery stream as the view sees it. */
export interface SubscriptionLink {
  /** True while a stream to the control plane is open. */
  isConnected(): boolean;
  /**
   * Asks the open stream for these resource names. Must not throw; when the
   * stream is down it may drop the request, because every new stream's first
   * request carries the view's full subscription list.
   */
  subscribe(names: string[]): void;
  unsubscribe(names: string[]): void;
}

/** One response's worth of changes, already validated by the discovery client. */
export interface ConfigUpdate {
  snapshots: ServiceSnapshot[];
  /** Services the agent held that no longer exist. */
  removed: string[];
  /** Subscribed services that do not exist (yet). */
  notFound: string[];
  /** Services whose new version was rejected (NACKed); their previous version stays. */
  rejected?: { service: string; message: string }[];
}

/**
 * Where the config the agent serves came from: nothing yet, the snapshot an
 * earlier run persisted (static stability: the control plane has not answered
 * since start), or the control plane's stream.
 */
export type ConfigSource = 'none' | 'snapshot' | 'control-plane';

export interface ConnectionState {
  connected: boolean;
  source: ConfigSource;
  lastConnectedAt: string | null;
  lastDisconnectedAt: string | null;
  lastError: string | null;
  responsesReceived: number;
  lastResponseAt: string | null;
  /** The control plane's revision in its latest response. */
  revision: string | null;
}

export interface ConfigDump {
  connection: ConnectionState;
  subscriptions: string[];
  services: Record<string, { version: string; endpoints: readonly Endpoint[] }>;
  notFound: string[];
  pending: string[];
}

/** Resources subscribed together with each service's endpoints (the traffic policy: agent/src/policy). */
export interface CompanionResources {
  namesFor(service: string): string[];
  /** Names subscribed on every stream whatever services are called ("mesh/settings"). */
  baseNames?(): string[];
  /** name -> version held. */
  versions(): Record<string, string>;
  /** Names subscribed on their own, not per service (external/<host>). */
  subscriptions?(): string[];
}

export interface ConfigViewOptions {
  subscribeWaitMs: number;
  companion?: CompanionResources;
  logger: Logger;
  /** Cap on remembered not-found services (each stays subscribed); the oldest is dropped beyond it. */
  maxNotFound?: number;
}

interface Waiter {
  promise: Promise<ServiceSnapshot>;
  resolve: (s: ServiceSnapshot) => void;
  reject: (err: MeshError) => void;
  timer: NodeJS.Timeout;
}

export class ConfigView implements EndpointSource {
  private services = new Map<string, ServiceSnapshot>();
  /** Insertion-ordered so the cap drops the oldest first. */
  private readonly notFound = new Set<string>();
  private readonly subscribed = new Set<string>();
  /** Service -> tick of its last use (idle-subscriptions.ts advances the tick). */
  private readonly used = new Map<string, number>();
  private useTick = 0;
  private readonly waiters = new Map<string, Waiter>();
  private readonly changeListeners: (() => void)[] = [];
  private link: SubscriptionLink | undefined;
  private closed = false;
  private readonly state: ConnectionState = {
    connected: false,
    source: 'none',
    lastConnectedAt: null,
    lastDisconnectedAt: null,
    lastError: null,
    responsesReceived: 0,
    lastResponseAt: null,
    revision: null,
  };
  private readonly subscribeWaitMs: number;
  private readonly maxNotFound: number;
  private readonly logger: Logger;

  constructor(options: ConfigViewOptions) {
    this.subscribeWaitMs = options.subscribeWaitMs;
    this.maxNotFound = options.maxNotFound ?? 1024;
    this.logger = options.logger;
    this.companion = options.companion;
  }

  private readonly companion: CompanionResources | undefined;

  /** A service's endpoints name plus its companions' names. */
  private namesOf(service: string): string[] {
    return this.companion ? [endpointsResourceName(service), ...this.companion.namesFor(service)] : [endpointsResourceName(service)];
  }

  /** Connects the view to the stream that serves its subscriptions. */
  attach(link: SubscriptionLink): void {
    this.link = link;
  }

  /** Called after every applied update (e.g. to persist the snapshot). */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  resolve(service: string): ServiceSnapshot | Promise<ServiceSnapshot> {
    this.used.set(service, this.useTick);
    const known = this.services.get(service);
    if (known) return known;
    if (this.notFound.has(service)) return Promise.reject(unknownService(service));
    const waiting = this.waiters.get(service);
    if (waiting) return waiting.promise;
    try {
      validateServiceName(service, 'service');
    } catch (err) {
      return Promise.reject(
        new MeshError(MeshErrorCode.unknownService, `service ${JSON.stringify(service)} is not registered in the mesh (${messageOf(err)})`),
      );
    }
    if (this.closed) return Promise.reject(new MeshError(MeshErrorCode.shuttingDown, 'the agent is shutting down'));
    if (!this.link?.isConnected()) {
      return Promise.reject(
        new MeshError(
          MeshErrorCode.controlPlaneUnavailable,
          `service "${service}" is not known to this agent yet and the control plane is not connected`,
        ),
      );
    }
    return this.subscribeAndWait(service);
  }

  /** True when the control plane said the service does not exist (and the view remembers it). */
  isNotFound(service: string): boolean {
    return this.notFound.has(service);
  }

  /** The current snapshot of a service, if held. */
  get(service: string): ServiceSnapshot | undefined {
    const snap = this.services.get(service);
    if (snap) this.used.set(service, this.useTick);
    return snap;
  }

  /** Resource names this agent subscribes to (sent as the first request of every stream). */
  subscriptions(): string[] {
    const own = [...(this.companion?.baseNames?.() ?? []), ...[...this.subscribed].flatMap((s) => this.namesOf(s))];
    return this.companion?.subscriptions ? [...new Set([...own, ...this.companion.subscriptions()])] : own;
  }

  /** Resource name -> version of every resource held (the first request's initial_versions). */
  versions(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const snap of this.services.values()) out[endpointsResourceName(snap.service)] = snap.version;
    if (this.companion) Object.assign(out, this.companion.versions());
    return out;
  }

  /** Every held snapshot (for persisting). */
  snapshots(): ServiceSnapshot[] {
    return [...this.services.values()];
  }

  /** Loads snapshots persisted by an earlier run, so the agent serves them before the control plane answers. */
  seed(snapshots: readonly ServiceSnapshot[]): void {
    for (const snap of snapshots) {
      if (this.services.has(snap.service)) continue;
      this.services.set(snap.service, snap);
      this.subscribed.add(snap.service);
    }
    if (this.services.size > 0 && this.state.source === 'none') this.state.source = 'snapshot';
  }

  /**
   * Applies one response atomically: the proxy sees either none or all of it
   * (it runs synchronously, and the services map is swapped as a whole).
   */
  apply(update: ConfigUpdate): void {
    const next = new Map(this.services);
    for (const snap of update.snapshots) {
      next.set(snap.service, snap);
      this.notFound.delete(snap.service);
      this.subscribed.add(snap.service);
    }
    for (const service of [...update.removed, ...update.notFound]) {
      next.delete(service);
      this.notFound.delete(service);
      this.notFound.add(service);
      this.subscribed.add(service);
    }
    this.services = next;
    for (const [service, waiter] of this.waiters) {
      const snap = next.get(service);
      if (snap) this.settle(service, waiter, snap);
      else if (this.notFound.has(service)) this.settle(service, waiter, unknownService(service));
    }
    for (const { service, message } of update.rejected ?? []) {
      const waiter = this.waiters.get(service);
      if (waiter && !next.has(service)) {
        this.settle(service, waiter, new MeshError(MeshErrorCode.controlPlaneUnavailable, `rejected config for "${service}": ${message}`));
      }
    }
    this.capNotFound();
    for (const listener of this.changeListeners) listener();
  }

  markConnected(): void {
    this.state.connected = true;
    this.state.lastConnectedAt = new Date().toISOString();
    this.state.lastError = null;
  }

  markDisconnected(error: string | null): void {
    if (this.state.connected) this.state.lastDisconnectedAt = new Date().toISOString();
    this.state.connected = false;
    if (error) this.state.lastError = error;
  }

  markResponse(revision: string): void {
    this.state.responsesReceived++;
    this.state.source = 'control-plane';
    this.state.lastResponseAt = new Date().toISOString();
    this.state.revision = revision || this.state.revision;
  }

  connection(): Readonly<ConnectionState> {
    return { ...this.state };
  }

  dump(): ConfigDump {
    const services: ConfigDump['services'] = {};
    for (const [name, snap] of [...this.services].sort(([a], [b]) => a.localeCompare(b))) {
      services[name] = { version: snap.version, endpoints: snap.endpoints };
    }
    return {
      connection: this.connection(),
      subscriptions: this.subscriptions().sort(),
      services,
      notFound: [...this.notFound].sort(),
      pending: [...this.waiters.keys()].sort(),
    };
  }

  /** The view as idle-subscriptions.ts sees it (services subscribed, their last use, dropping them). */
  idleTarget(): IdleTarget {
    return {
      subscribedServices: () => [...this.subscribed],
      lastUsed: (service) => this.used.get(service),
      noteUse: (service, tick) => this.used.set(service, tick),
      setTick: (tick) => {
        this.useTick = tick;
      },
      isConnected: () => this.link?.isConnected() === true,
      drop: (services) => this.forget(services, 'not used lately'),
    };
  }

  /**
   * Unsubscribes services and forgets what is held for them (no waiter may be
   * pending: those are in use). A later request subscribes again.
   */
  forget(services: readonly string[], reason: string): void {
    const drop = services.filter((s) => this.subscribed.has(s) && !this.waiters.has(s));
    if (drop.length === 0) return;
    const next = new Map(this.services);
    for (const service of drop) {
      next.delete(service);
      this.notFound.delete(service);
      this.subscribed.delete(service);
      this.used.delete(service);
    }
    this.services = next;
    this.logger.info('dropped subscriptions', { services: drop, reason });
    this.link?.unsubscribe(drop.flatMap((s) => this.namesOf(s)));
    for (const listener of this.changeListeners) listener();
  }

  /** Fails every waiting resolve() with shutting_down and refuses new subscriptions. */
  close(): void {
    this.closed = true;
    for (const [service, waiter] of this.waiters) {
      this.settle(service, waiter, new MeshError(MeshErrorCode.shuttingDown, 'the agent is shutting down'));
    }
  }

  private subscribeAndWait(service: string): Promise<ServiceSnapshot> {
    let resolve!: (s: ServiceSnapshot) => void;
    let reject!: (err: MeshError) => void;
    const promise = new Promise<ServiceSnapshot>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const timer = setTimeout(() => {
      const waiter = this.waiters.get(service);
      if (!waiter) return;
      // The subscription stays: a late answer still fills the view for the next request.
      this.settle(
        service,
        waiter,
        new MeshError(
          MeshErrorCode.controlPlaneUnavailable,
          `the control plane did not answer for service "${service}" within ${this.subscribeWaitMs}ms`,
        ),
      );
    }, this.subscribeWaitMs);
    timer.unref();
    this.waiters.set(service, { promise, resolve, reject, timer });
    this.subscribed.add(service);
    this.logger.debug('subscribing', { service });
    this.link?.subscribe(this.namesOf(service));
    return promise;
  }

  private settle(service: string, waiter: Waiter, outcome: ServiceSnapshot | MeshError): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(service);
    if (outcome instanceof MeshError) waiter.reject(outcome);
    else waiter.resolve(outcome);
  }

  /** Bounds memory spent on names that do not exist (e.g. typos in Host headers). */
  private capNotFound(): void {
    const drop: string[] = [];
    for (const service of this.notFound) {
      if (this.notFound.size - drop.length <= this.maxNotFound) break;
      drop.push(service);
    }
    if (drop.length === 0) return;
    for (const service of drop) {
      this.notFound.delete(service);
      this.subscribed.delete(service);
      this.used.delete(service);
    }
    this.link?.unsubscribe(drop.flatMap((s) => this.namesOf(s)));
  }
}

function unknownService(service: string): MeshError {
  return new MeshError(MeshErrorCode.unknownService, `service "${service}" is not registered in the mesh`);
}
