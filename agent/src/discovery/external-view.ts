/**
 * The hosts outside the mesh this agent knows to be declared (or not) by an
 * ExternalService, from the "external/<host>" resources of the discovery
 * stream. Lazy, like services: the first request to a host that is not a
 * mesh service subscribes to its name and waits (bounded) for the control
 * plane's answer: the document, or not_found ("not declared", remembered and
 * kept subscribed, so declaring it later reaches the agent at once).
 * A received document is validated with the shared validator; a failure is
 * NACKed and the previous version stays. Each declared ExternalService also
 * subscribes to "policy/<name>", so Routes and ServicePolicy written for it
 * (timeouts, retries, header edits, faults) apply to calls to its host.
 */
import {
  externalResourceName,
  hostOfExternalResource,
  type Logger,
  MeshError,
  MeshErrorCode,
  messageOf,
  parseExternalResource,
  parseResourceName,
  policyResourceName,
  RESOURCE_TYPE_EXTERNAL,
} from '@weft/shared';
import type { Resource__Output } from '@weft/shared/generated/weft/v1/Resource';
import type { ResourceError } from '@weft/shared/generated/weft/v1/ResourceError';
import type { ExternalSource, ExternalTarget } from '../contracts.js';
import type { SubscriptionLink } from './config-view.js';

export interface ExternalViewOptions {
  subscribeWaitMs: number;
  logger: Logger;
  /** Cap on remembered undeclared hosts (each stays subscribed); the oldest is dropped beyond it. */
  maxUndeclared?: number;
}

interface Waiter {
  promise: Promise<ExternalTarget | undefined>;
  resolve: (t: ExternalTarget | undefined) => void;
  reject: (err: MeshError) => void;
  timer: NodeJS.Timeout;
}

interface Held extends ExternalTarget {
  /** The document as received (persisted snapshot, /config). */
  readonly json: string;
}

export class ExternalView implements ExternalSource {
  private targets = new Map<string, Held>();
  /** Insertion-ordered so the cap drops the oldest first. */
  private readonly undeclared = new Set<string>();
  private readonly subscribed = new Set<string>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly rejections = new Map<string, { version: string; message: string }>();
  private link: SubscriptionLink | undefined;
  private closed = false;
  private readonly log: Logger;
  private readonly maxUndeclared: number;

  constructor(private readonly options: ExternalViewOptions) {
    this.log = options.logger.child({ component: 'external' });
    this.maxUndeclared = options.maxUndeclared ?? 1024;
  }

  attach(link: SubscriptionLink): void {
    this.link = link;
  }

  lookup(host: string): ExternalTarget | undefined | Promise<ExternalTarget | undefined> {
    const known = this.targets.get(host);
    if (known) return known;
    if (this.undeclared.has(host)) return undefined;
    const waiting = this.waiters.get(host);
    if (waiting) return waiting.promise;
    if (hostOfExternalResource(externalResourceName(host)) === null) return undefined;
    if (this.closed) return Promise.reject(new MeshError(MeshErrorCode.shuttingDown, 'the agent is shutting down'));
    if (!this.link?.isConnected()) {
      return Promise.reject(
        new MeshError(
          MeshErrorCode.controlPlaneUnavailable,
          `host "${host}" is not known to this agent yet and the control plane is not connected`,
        ),
      );
    }
    return this.subscribeAndWait(host);
  }

  owns(name: string): boolean {
    return parseResourceName(name)?.type === RESOURCE_TYPE_EXTERNAL;
  }

  /** Resource names of every host subscribed, and the policies of the declared ones (the first request of every stream). */
  subscriptions(): string[] {
    return [...[...this.subscribed].map(externalResourceName), ...[...this.targets.values()].map((t) => policyResourceName(t.service))];
  }

  /** name -> version of every document held (initial_versions). */
  versions(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const t of this.targets.values()) out[externalResourceName(t.host)] = t.version;
    return out;
  }

  /** Applies one response's external resources, removals and not-founds; returns the NACK errors. */
  apply(resources: readonly Resource__Output[], removed: readonly string[], notFound: readonly string[]): ResourceError[] {
    const errors: ResourceError[] = [];
    const next = new Map(this.targets);
    const newPolicies: string[] = [];
    for (const r of resources) {
      const host = hostOfExternalResource(r.name) ?? '';
      try {
        if (host === '') throw new Error(`name: invalid external resource name ${JSON.stringify(r.name)}`);
        if (!r.version) throw new Error('version: is required');
        if (r.body !== 'external' || !r.external) throw new Error('body: an "external/..." resource must carry external');
        if (r.external.host !== host) throw new Error(`external.host: ${JSON.stringify(r.external.host)} does not match "${host}"`);
        const doc = parseExternalResource(r.external.json, host);
        const held: Held = Object.freeze({
          service: doc.metadata.service,
          host,
          port: doc.port,
          tls: doc.tls,
          version: r.version,
          json: r.external.json,
        });
        if (next.get(host)?.service !== held.service) newPolicies.push(policyResourceName(held.service));
        next.set(host, held);
        this.undeclared.delete(host);
        this.subscribed.add(host);
        this.rejections.delete(host);
      } catch (err) {
        const message = messageOf(err);
        errors.push({ name: r.name, version: r.version, message });
        if (host !== '') this.rejections.set(host, { version: r.version, message });
        this.log.warn('external service rejected; keeping the previous version', { host, version: r.version, error: message });
      }
    }
    for (const name of [...removed, ...notFound]) {
      const host = hostOfExternalResource(name);
      if (host === null) continue;
      next.delete(host);
      this.undeclared.delete(host);
      this.undeclared.add(host);
      this.subscribed.add(host);
    }
    this.targets = next;
    if (newPolicies.length > 0) this.link?.subscribe(newPolicies);
    for (const [host, waiter] of this.waiters) {
      const t = next.get(host);
      if (t) this.settle(host, waiter, t);
      else if (this.undeclared.has(host)) this.settle(host, waiter, undefined);
      else if (this.rejections.has(host))
        this.settle(
          host,
          waiter,
          new MeshError(
            MeshErrorCode.controlPlaneUnavailable,
            `rejected ExternalService for "${host}": ${this.rejections.get(host)?.message}`,
          ),
        );
    }
    this.capUndeclared();
    return errors;
  }

  /** Every document held, as the resource it arrived in (for the persisted snapshot). */
  resources(): Resource__Output[] {
    return [...this.targets.values()].map((t) => ({
      name: externalResourceName(t.host),
      version: t.version,
      body: 'external',
      external: { host: t.host, json: t.json },
    })) as Resource__Output[];
  }

  /** For /config. */
  dump(): {
    declared: Record<string, ExternalTarget>;
    undeclared: string[];
    rejected: Record<string, { version: string; message: string }>;
  } {
    const declared: Record<string, ExternalTarget> = {};
    for (const [host, { json: _json, ...t }] of [...this.targets].sort(([a], [b]) => (a < b ? -1 : 1))) declared[host] = t;
    return { declared, undeclared: [...this.undeclared].sort(), rejected: Object.fromEntries(this.rejections) };
  }

  /** Fails every waiting lookup with shutting_down and refuses new subscriptions. */
  close(): void {
    this.closed = true;
    for (const [host, waiter] of this.waiters)
      this.settle(host, waiter, new MeshError(MeshErrorCode.shuttingDown, 'the agent is shutting down'));
  }

  private subscribeAndWait(host: string): Promise<ExternalTarget | undefined> {
    let resolve!: (t: ExternalTarget | undefined) => void;
    let reject!: (err: MeshError) => void;
    const promise = new Promise<ExternalTarget | undefined>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const timer = setTimeout(() => {
      const waiter = this.waiters.get(host);
      // The subscription stays: a late answer still fills the view for the next request.
      if (waiter)
        this.settle(
          host,
          waiter,
          new MeshError(
            MeshErrorCode.controlPlaneUnavailable,
            `the control plane did not answer for host "${host}" within ${this.options.subscribeWaitMs}ms`,
          ),
        );
    }, this.options.subscribeWaitMs);
    timer.unref();
    this.waiters.set(host, { promise, resolve, reject, timer });
    this.subscribed.add(host);
    this.log.debug('subscribing', { host });
    this.link?.subscribe([externalResourceName(host)]);
    return promise;
  }

  private settle(host: string, waiter: Waiter, outcome: ExternalTarget | undefined | MeshError): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(host);
    if (outcome instanceof MeshError) waiter.reject(outcome);
    else waiter.resolve(outcome);
  }

  /** Bounds memory spent on hosts nobody declared (every host an app ever tried). */
  private capUndeclared(): void {
    const drop: string[] = [];
    for (const host of this.undeclared) {
      if (this.undeclared.size - drop.length <= this.maxUndeclared) break;
      drop.push(host);
    }
    if (drop.length === 0) return;
    for (const host of drop) {
      this.undeclared.delete(host);
      this.subscribed.delete(host);
    }
    this.link?.unsubscribe(drop.map(externalResourceName));
  }
}
