/**
 * The state machine of one agent's discovery stream (rules in the header of
 * proto/weft/v1/discovery.proto). It decides what to send and when; the
 * translator decides how it looks on the wire, and the gRPC glue
 * (discovery-service.ts) moves messages. It never blocks the registry:
 * a change only marks a name dirty and schedules a flush.
 *
 * Invariants:
 * - At most one response is unanswered (`inflight`). Changes arriving
 *   meanwhile mark names in `dirty`; the next response is built from the
 *   registry's state at flush time, so the latest version wins. Memory is a
 *   Set of names bounded by the subscriptions, never a queue of messages.
 * - `held` is the version the agent holds (acknowledged, or declared in
 *   `initial_versions`). A resource is sent only when its version differs
 *   from `held` and from `rejected`: a rejected version is never resent.
 *   Rejections are also kept per agent (AgentRejections), so a reconnect of
 *   the same agent does not resend them either.
 * - Nonces are "1", "2", ... within a stream.
 */
import type { Logger } from '@weft/shared';
import {
  hostOfExternalResource,
  isResourceOfType,
  MESH_SETTINGS_RESOURCE,
  RESOURCE_TYPE_ENDPOINTS,
  RESOURCE_TYPE_POLICY,
  RESOURCE_TYPE_TRUST,
  serviceOfResource,
} from '@weft/shared';
import type { DiscoveryRequest__Output } from '@weft/shared/generated/weft/v1/DiscoveryRequest';
import type { DiscoveryResponse } from '@weft/shared/generated/weft/v1/DiscoveryResponse';
import type { Resource } from '@weft/shared/generated/weft/v1/Resource';
import type { ResourceError__Output } from '@weft/shared/generated/weft/v1/ResourceError';
import type { ServiceEntry } from '../registry/endpoint-view.js';
import type { ExternalEntry } from '../registry/external-index.js';
import type { MeshSettingsEntry, MeshSettingsSource } from '../registry/mesh-settings.js';
import type { PolicyEntry } from '../registry/policy-registry.js';
import type { Watchable, Watcher } from '../registry/watch-index.js';
import type { TrustEntry } from '../trust/trust-authority.js';
import type { PolicySource } from './policy-translate.js';
import type { AgentRejections } from './rejected-versions.js';
import { discoveryResponse } from './translate.js';

/** What a stream needs from the registry. */
export interface DiscoverySource extends Watchable {
  service(name: string): ServiceEntry | undefined;
  revision(): number;
}

export interface ResourceStatus {
  name: string;
  sentVersion: string;
  ackedVersion: string;
  rejectedVersion: string;
  error: string;
}

export interface StreamStatus {
  streamId: string;
  agentId: string;
  resources: ResourceStatus[];
  /** Nonce of the unanswered response; empty when in sync. */
  pendingNonce: string;
}

export interface DiscoveryStreamOptions {
  streamId: string;
  agentId: string;
  source: DiscoverySource;
  /** Writes one response to the wire. */
  send: (response: DiscoveryResponse) => void;
  logger: Logger;
  /** The agent's rejected versions, shared by its streams (never resent after a reconnect). */
  rejections?: AgentRejections;
  /** Metrics hooks; must not throw. */
  observer?: StreamObserver;
  /** Serves "policy/<service>" names; without it they are always not_found. */
  policies?: PolicySource;
  /** Serves "mesh/settings"; without it the name is not_found. */
  settings?: MeshSettingsSource;
  /** Serves "trust/..." names (deny list, CA bundle); without it they are always not_found. */
  trust?: TrustSource;
  /** Serves "external/<host>" names; without it they are always not_found. */
  externals?: ExternalSource;
}

/** The ExternalService documents by host (registry/external-index.ts). */
export interface ExternalSource extends Watchable {
  entry(host: string): ExternalEntry | undefined;
}

/** Mesh-wide "trust/..." resources: immutable entries, replaced on change. */
export interface TrustSource extends Watchable {
  entry(name: string): TrustEntry | undefined;
}

/** What a stream reports for /metrics. */
export interface StreamObserver {
  /**
   * A response was written. `changeLatenciesMs` has one entry per resource
   * sent because of a change: time from the change's commit to this write.
   */
  pushed(changeLatenciesMs: readonly number[]): void;
  /** The in-flight response was answered after `rttMs`; `nack` when it listed errors. */
  answered(rttMs: number, nack: boolean): void;
}

/**
 * One resource an agent subscribed to, and the watcher of what serves it. A
 * class, so every subscription has one hidden class with every field from
 * the start: built as object literals (spread, then fields added as the
 * stream went on), each of an agent's ~20 subscriptions had a V8 map of its
 * own (~6 KiB of maps per agent). Being the watcher itself, it holds no
 * closures (a callback and a cancel function per subscription were ~4 KiB
 * per agent).
 */
class Subscription implements Watcher {
  held: string | undefined;
  sent: string | undefined = undefined;
  acked: string | undefined = undefined;
  rejected: string | undefined;
  error: string | undefined;

  constructor(
    readonly name: string,
    private readonly stream: DiscoveryStream,
    /** Which source serves it. */
    readonly kind: SubscriptionKind,
    /** The watched key: the service, the external host, or for trust the whole name; null when the name never exists. */
    readonly service: string | null,
    /** What serves it and is watched under `service`; undefined: nothing to watch. */
    private readonly from: Watchable | undefined,
    held: string | undefined,
    rejection: { version: string; error: string } | undefined,
  ) {
    this.held = held || undefined;
    this.rejected = rejection?.version;
    this.error = rejection?.error;
    if (from !== undefined && this.service !== null) from.addWatcher(this.service, this);
  }

  changed(): void {
    this.stream.onWatchedChange(this.name);
  }

  stopWatching(): void {
    if (this.from !== undefined && this.service !== null) this.from.removeWatcher(this.service, this);
  }
}

/**
 * Which source serves a subscription: "endpoints/<service>" the registry,
 * "policy/<service>" the policy source, "mesh/settings" the settings source
 * (fixed for the life of the control plane), "trust/..." the trust source,
 * "external/<host>" the external source.
 */
type SubscriptionKind = 'endpoints' | 'policy' | 'mesh' | 'trust' | 'external';

interface InFlight {
  nonce: string;
  /** name -> version sent in that response (resources only; removals need no answer). */
  versions: Map<string, string>;
  sentAt: number;
}

const sorted = (names: string[]) => names.sort();

export class DiscoveryStream {
  readonly streamId: string;
  readonly agentId: string;
  private readonly source: DiscoverySource;
  private readonly send: (response: DiscoveryResponse) => void;
  private readonly log: Logger;
  private readonly subs = new Map<string, Subscription>();
  /** Names whose state must be re-evaluated at the next flush. */
  private readonly dirty = new Set<string>();
  /** New subscriptions that must be answered, with `not_found` if nothing else. */
  private readonly unanswered = new Set<string>();
  /** Dirty names that were marked by a committed change (push-latency metrics); a subset of `dirty`. */
  private readonly changed = new Set<string>();
  private readonly rejections: AgentRejections | undefined;
  private readonly observer: StreamObserver | undefined;
  private readonly policies: PolicySource | undefined;
  private readonly settings: MeshSettingsSource | undefined;
  private readonly trust: TrustSource | undefined;
  private readonly externals: ExternalSource | undefined;
  private inflight: InFlight | null = null;
  private lastNonce = 0;
  /** The first request is always answered, even with an empty response: it confirms the agent's versions. */
  private firstAnswerDue = true;
  private scheduled: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(opts: DiscoveryStreamOptions) {
    this.streamId = opts.streamId;
    this.agentId = opts.agentId;
    this.source = opts.source;
    this.send = opts.send;
    this.log = opts.logger;
    this.rejections = opts.rejections;
    this.observer = opts.observer;
    this.policies = opts.policies;
    this.settings = opts.settings;
    this.trust = opts.trust;
    this.externals = opts.externals;
  }

  /** Names waiting for the next response: bounded by the subscriptions, whatever the agent does. */
  get pendingNames(): number {
    return this.dirty.size;
  }

  /** Number of subscribed names. */
  get subscriptions(): number {
    return this.subs.size;
  }

  /** Nonce of the unanswered response, or null. */
  get inflightNonce(): string | null {
    return this.inflight?.nonce ?? null;
  }

  /** Handles one request: the answer to the in-flight response first, then (un)subscriptions; then flushes. */
  onRequest(req: DiscoveryRequest__Output, first: boolean): void {
    if (this.closed) return;
    if (req.response_nonce) this.onAnswer(req.response_nonce, req.errors ?? []);
    for (const name of req.unsubscribe ?? []) this.unsubscribe(name);
    // A name the agent holds is implicitly subscribed: it wants to hear when it changes or goes away.
    if (first) for (const [name, version] of Object.entries(req.initial_versions ?? {})) this.subscribe(name, version);
    for (const name of req.subscribe ?? []) this.subscribe(name, undefined);
    this.flush();
  }

  /** Stops watching; nothing is sent after this. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    for (const sub of this.subs.values()) sub.stopWatching();
    this.dirty.clear();
    this.unanswered.clear();
    this.changed.clear();
  }

  status(): StreamStatus {
    const resources = [...this.subs.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, s]) => ({
        name,
        sentVersion: s.sent ?? '',
        ackedVersion: s.acked ?? '',
        rejectedVersion: s.rejected ?? '',
        error: s.error ?? '',
      }));
    return { streamId: this.streamId, agentId: this.agentId, resources, pendingNonce: this.inflight?.nonce ?? '' };
  }

  private subscribe(name: string, heldVersion: string | undefined): void {
    if (this.subs.has(name)) return;
    if (name === MESH_SETTINGS_RESOURCE) {
      // Fixed for the life of the control plane: nothing to watch.
      this.track(name, 'mesh', null, undefined, heldVersion);
      return;
    }
    if (isResourceOfType(name, RESOURCE_TYPE_TRUST)) {
      this.track(name, 'trust', name, this.trust, heldVersion);
      return;
    }
    const policyService = serviceOfResource(name, RESOURCE_TYPE_POLICY);
    if (policyService !== null) {
      this.track(name, 'policy', policyService, this.policies, heldVersion);
      return;
    }
    const externalHost = hostOfExternalResource(name);
    if (externalHost !== null) {
      this.track(name, 'external', externalHost, this.externals, heldVersion);
      return;
    }
    this.track(name, 'endpoints', serviceOfResource(name, RESOURCE_TYPE_ENDPOINTS), this.source, heldVersion);
  }

  private track(
    name: string,
    kind: SubscriptionKind,
    service: string | null,
    from: Watchable | undefined,
    heldVersion: string | undefined,
  ): void {
    this.subs.set(name, new Subscription(name, this, kind, service, from, heldVersion, this.rejections?.get(name)));
    this.dirty.add(name);
    this.unanswered.add(name);
  }

  private unsubscribe(name: string): void {
    const sub = this.subs.get(name);
    if (!sub) return;
    sub.stopWatching();
    this.subs.delete(name);
    this.dirty.delete(name);
    this.unanswered.delete(name);
    this.changed.delete(name);
  }

  /** A watched resource changed (called by its Subscription). */
  onWatchedChange(name: string): void {
    if (this.closed || !this.subs.has(name)) return;
    this.dirty.add(name);
    this.changed.add(name);
    if (!this.inflight && !this.scheduled) {
      // Deferred so one tick's changes make one response and the registry never waits on a stream.
      this.scheduled = setImmediate(() => {
        this.scheduled = undefined;
        try {
          this.flush();
        } catch (err) {
          this.log.error('cannot push to agent', { err });
        }
      });
    }
  }

  /** ACK or NACK of the in-flight response; answers to any other nonce are stale and ignored. */
  private onAnswer(nonce: string, errors: readonly ResourceError__Output[]): void {
    const inflight = this.inflight;
    if (!inflight || inflight.nonce !== nonce) {
      this.log.debug('stale nonce ignored', { nonce, pending: inflight?.nonce ?? '' });
      return;
    }
    this.inflight = null;
    this.observer?.answered(performance.now() - inflight.sentAt, errors.length > 0);
    const rejected = new Map(errors.map((e) => [e.name, e]));
    for (const [name, version] of inflight.versions) {
      const sub = this.subs.get(name);
      if (!sub) continue;
      const err = rejected.get(name);
      if (err) {
        sub.rejected = version;
        sub.error = err.message || 'rejected';
        this.rejections?.set(name, version, sub.error);
        this.log.warn('agent rejected resource', { resource: name, version, error: sub.error });
      } else {
        sub.held = version;
        sub.acked = version;
        // Versions only grow, so an older rejected one can never come back.
        if (sub.rejected !== undefined) this.rejections?.clear(name);
        sub.rejected = undefined;
        sub.error = undefined;
      }
    }
    for (const name of rejected.keys()) {
      if (!inflight.versions.has(name)) this.log.debug('error for a resource not in the response ignored', { resource: name, nonce });
    }
  }

  /** What the subscription's source holds now; undefined when the name does not exist. */
  private entryOf(sub: Subscription): ServiceEntry | PolicyEntry | MeshSettingsEntry | TrustEntry | ExternalEntry | undefined {
    if (sub.kind === 'mesh') return this.settings?.entry();
    if (sub.service === null) return undefined;
    switch (sub.kind) {
      case 'trust':
        return this.trust?.entry(sub.service);
      case 'policy':
        return this.policies?.entry(sub.service);
      case 'external':
        return this.externals?.entry(sub.service);
      case 'endpoints':
        return this.source.service(sub.service);
    }
  }

  /** Sends one response if nothing is in flight and something is due. */
  private flush(): void {
    if (this.closed || this.inflight) return;
    if (this.dirty.size === 0 && !this.firstAnswerDue) return;
    const resources: ServiceEntry[] = [];
    const policies: PolicyEntry[] = [];
    let settings: MeshSettingsEntry | undefined;
    const trust: Resource[] = [];
    const externals: ExternalEntry[] = [];
    const removed: string[] = [];
    const notFound: string[] = [];
    const versions = new Map<string, string>();
    const latencies: number[] = [];
    const now = performance.now();
    for (const name of this.dirty) {
      const sub = this.subs.get(name);
      if (!sub) continue;
      const entry = this.entryOf(sub);
      if (!entry && sub.rejected !== undefined) {
        // The name stopped existing: whatever comes next has a newer version.
        this.rejections?.clear(name);
        sub.rejected = undefined;
        sub.error = undefined;
      }
      if (entry) {
        if (entry.version === sub.held) {
          // The agent said on (re)connect that it holds this version: that is as good as an ACK of it
          // (weft status would otherwise show a reconnected agent as holding nothing).
          if (sub.acked === undefined) sub.sent = sub.acked = entry.version;
          continue;
        }
        if (entry.version === sub.rejected) continue;
        if ('defaultAccess' in entry) settings = entry;
        else if ('resource' in entry) trust.push(entry.resource);
        else if ('json' in entry) policies.push(entry);
        else if ('externalJson' in entry) externals.push(entry);
        else resources.push(entry);
        versions.set(name, entry.version);
        sub.sent = entry.version;
        if (this.changed.has(name) && 'madeAt' in entry) latencies.push(now - entry.madeAt);
      } else if (sub.held !== undefined) {
        removed.push(name);
        sub.held = undefined;
        sub.sent = undefined;
        sub.acked = undefined;
      } else if (this.unanswered.has(name)) {
        notFound.push(name);
      }
    }
    this.dirty.clear();
    this.unanswered.clear();
    this.changed.clear();
    const forced = this.firstAnswerDue;
    this.firstAnswerDue = false;
    const sent = resources.length + policies.length + trust.length + externals.length + (settings ? 1 : 0);
    if (!forced && sent + removed.length + notFound.length === 0) return;
    const nonce = String(++this.lastNonce);
    this.inflight = { nonce, versions, sentAt: now };
    const response = discoveryResponse({
      nonce,
      revision: this.source.revision(),
      resources: resources.sort((a, b) => (a.service < b.service ? -1 : 1)),
      policies: policies.sort((a, b) => (a.service < b.service ? -1 : 1)),
      settings,
      trust: trust.sort((a, b) => ((a.name ?? '') < (b.name ?? '') ? -1 : 1)),
      externals: externals.sort((a, b) => (a.host < b.host ? -1 : 1)),
      removed: sorted(removed),
      notFound: sorted(notFound),
    });
    // Counts only: this runs for every response even when debug is off (per-resource state is in /v1/agents).
    this.log.debug('push', {
      nonce,
      resources: sent,
      removed: removed.length,
      notFound: notFound.length,
    });
    this.send(response);
    this.observer?.pushed(latencies);
  }
}
