/**
 * The registry: domain logic between the store and the servers. It owns the
 * in-memory endpoint view, the watch index and the agents' session leases, and
 * knows nothing of gRPC.
 *
 * Every change goes store-first: the store commits the change and reports
 * the instance rows it changed; only then is the view patched and are the
 * watchers of exactly those services notified. A failed change therefore
 * leaves the view, the watchers and the database as they were.
 *
 * Writes go through a WriteBatcher (group commit): the mutating methods are
 * async and resolve once their change is durable. Decisions that depend on
 * in-memory lease state are taken inside the write, at flush time, so they
 * see the same state as the commit that follows in the same tick.
 */
import type { AgentInfo, Endpoint, Health, Instance, InstanceSpec, Logger } from '@weft/shared';
import type { ChangeResult, RegistryStore } from '../store/store-contract.js';
import { WriteBatcher, type WriteBatcherOptions } from '../store/write-batcher.js';
import { EndpointView, indexOf, type ServiceEntry, sameEndpoints, toEndpoint } from './endpoint-view.js';
import { LeaseTable } from './leases.js';
import { type WatchCallback, type Watcher, WatchIndex } from './watch-index.js';

export interface RegistryOptions {
  /** How long an agent's instances outlive its last stream. */
  leaseTtlMs: number;
  /** Lease granted to every agent loaded from disk at start, so a restart never empties the mesh. */
  restartGraceMs: number;
  logger: Logger;
  /** Clock, for tests. */
  now?: () => number;
  /** How often lapsed leases are swept; default min(1 s, leaseTtl / 4). */
  sweepIntervalMs?: number;
  /** Group-commit settings (window, batch size, batch hook for metrics). */
  batching?: WriteBatcherOptions;
  /** Called when an agent is forgotten after its lease lapsed (drop per-agent server state). */
  onAgentRemoved?: (agentId: string) => void;
  /**
   * Several replicas share the store (PostgreSQL). Then the stored lease is
   * the truth: the replica holding an agent's stream renews it in the store
   * (every renewIntervalMs, default min(5 s, leaseTtl / 3)), and only the
   * replica told to sweep (setSweeping, the leader) removes agents whose
   * stored lease lapsed. Without it (SQLite, one process) leases live in
   * memory and this process sweeps.
   */
  sharedStore?: { renewIntervalMs?: number };
}

/** Counters the registry keeps for /metrics. */
export interface RegistryCounters {
  /** Successful Register calls. */
  registrations: number;
}

/** An agent as the registry sees it (for ListAgents and /v1/agents). */
export interface AgentRecord {
  info: AgentInfo;
  connected: boolean;
  /** Null while connected. */
  leaseExpiresAtMs: number | null;
  /** When its stream closed; null while connected, or when that was before this control plane started. */
  disconnectedAtMs: number | null;
  instances: number;
}

function agentInfoOf(a: AgentInfo): AgentInfo {
  return {
    agentId: a.agentId,
    hostname: a.hostname,
    address: a.address,
    inboundPort: a.inboundPort,
    zone: a.zone,
    version: a.version,
  };
}

export class Registry {
  private readonly view = new EndpointView();
  private readonly watches = new WatchIndex();
  private readonly leases = new LeaseTable();
  private readonly agents = new Map<string, AgentInfo>();
  /** Replicas: the newest service version read of other replicas' commits. */
  private readRevision = 0;
  /** Replicas: services whose next catch-up read must be whole (a partial read did not match what is held). */
  private readonly readWhole = new Set<string>();
  private readonly batcher: WriteBatcher;
  readonly counters: RegistryCounters = { registrations: 0 };
  private readonly now: () => number;
  private readonly log: Logger;
  private sweeper: NodeJS.Timeout | undefined;
  private renewer: NodeJS.Timeout | undefined;
  /** Whether this process removes lapsed agents: always alone, only as the leader with a shared store. */
  private sweeping: boolean;
  private closed = false;

  constructor(
    private readonly store: RegistryStore,
    private readonly opts: RegistryOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.log = opts.logger;
    this.batcher = new WriteBatcher(store, opts.batching);
    this.sweeping = !opts.sharedStore;
  }

  /** Shared store: this replica became (true) or stopped being (false) the one that sweeps lapsed leases. */
  setSweeping(on: boolean): void {
    this.sweeping = on;
  }

  /** Builds the view from the store, grants every known agent the restart grace, starts the lease sweeper. */
  async start(): Promise<void> {
    const snapshot = await this.store.load();
    const graceUntil = this.now() + this.opts.restartGraceMs;
    for (const a of snapshot.agents) {
      this.agents.set(a.agentId, agentInfoOf(a));
      this.leases.grant(a.agentId, graceUntil);
    }
    const versions = snapshot.serviceVersions;
    const byService = new Map<string, Instance[]>();
    for (const inst of snapshot.instances) {
      const list = byService.get(inst.service) ?? [];
      list.push(inst);
      byService.set(inst.service, list);
    }
    for (const [service, instances] of byService) {
      this.view.set(
        service,
        versions.get(service) ?? snapshot.revision,
        instances.map((i) => toEndpoint(i, this.agents.get(i.agentId))),
      );
    }
    const interval = this.opts.sweepIntervalMs ?? Math.max(10, Math.min(1000, Math.floor(this.opts.leaseTtlMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), interval);
    this.sweeper.unref();
    if (this.opts.sharedStore) {
      const every = this.opts.sharedStore.renewIntervalMs ?? Math.max(10, Math.min(5000, Math.floor(this.opts.leaseTtlMs / 3)));
      this.renewer = setInterval(() => this.renewLeases(), every);
      this.renewer.unref();
    }
    this.log.info('registry loaded', {
      revision: this.store.revision(),
      agents: this.agents.size,
      services: this.view.size,
      graceMs: this.opts.restartGraceMs,
    });
  }

  /** Stops the sweeper, commits queued writes; later stream closes no longer touch the store. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.renewer) clearInterval(this.renewer);
    this.sweeper = undefined;
    this.renewer = undefined;
    await this.batcher.flushNow();
  }

  /**
   * The registry revision this control plane holds: its own last commit, or on a replica the newest
   * service version it has read of the others' commits, whichever is higher (what /healthz, the
   * revision gauge and discovery responses show; replicas that caught up show the same number).
   */
  revision(): number {
    return Math.max(this.store.revision(), this.readRevision);
  }

  service(name: string): ServiceEntry | undefined {
    return this.view.get(name);
  }

  /** Every service with at least one instance, sorted by name. */
  services(): ServiceEntry[] {
    return this.view.list();
  }

  /** Watches one service's entry; returns the cancel function. */
  watch(service: string, onChange: WatchCallback): () => void {
    return this.watches.watch(service, onChange);
  }

  addWatcher(service: string, watcher: Watcher): void {
    this.watches.addWatcher(service, watcher);
  }

  removeWatcher(service: string, watcher: Watcher): void {
    this.watches.removeWatcher(service, watcher);
  }

  /** Agents that are connected or still within their lease, sorted by id. */
  agentRecords(): AgentRecord[] {
    const now = this.now();
    const counts = this.instanceCountsByAgent();
    const out: AgentRecord[] = [];
    for (const info of [...this.agents.values()].sort((a, b) => (a.agentId < b.agentId ? -1 : 1))) {
      const connected = this.leases.isConnected(info.agentId);
      const leaseExpiresAtMs = this.leases.expiresAt(info.agentId);
      if (!connected && leaseExpiresAtMs !== null && leaseExpiresAtMs <= now) continue;
      const disconnectedAtMs = connected ? null : this.leases.disconnectedAt(info.agentId);
      out.push({ info, connected, leaseExpiresAtMs, disconnectedAtMs, instances: counts.get(info.agentId) ?? 0 });
    }
    return out;
  }

  /** Upserts `instances` for `agent` (see SqliteStore.registerInstances); resolves once durable. */
  register(agent: AgentInfo, instances: readonly InstanceSpec[], replaceAll: boolean): Promise<{ revision: number }> {
    let leaseUntil: number | null = null;
    return this.batcher.submit(
      () => {
        // An agent that registers before (or without) opening its stream still gets a lease,
        // written in the same transaction as its identity.
        leaseUntil = this.leases.isConnected(agent.agentId)
          ? null
          : Math.max(this.leases.expiresAt(agent.agentId) ?? 0, this.now() + this.opts.leaseTtlMs);
        return { op: 'register', agent, instances, replaceAll, lease: leaseUntil ?? undefined };
      },
      (r) => {
        const result = r!;
        this.agents.set(agent.agentId, agentInfoOf(agent));
        if (leaseUntil !== null) this.leases.grant(agent.agentId, leaseUntil);
        this.counters.registrations++;
        this.apply(result, { agent: agent.agentId, op: 'register' });
        return { revision: result.revision };
      },
    );
  }

  deregister(agentId: string, instanceIds: readonly string[]): Promise<{ revision: number; removed: number }> {
    return this.batcher.submit(
      () => ({ op: 'deregister', agentId, instanceIds }),
      (r) => {
        const result = r!;
        this.apply(result, { agent: agentId, op: 'deregister' });
        return { revision: result.revision, removed: result.removed ?? 0 };
      },
    );
  }

  setHealth(agentId: string, instanceId: string, health: Health): Promise<{ revision: number }> {
    return this.batcher.submit(
      () => ({ op: 'setHealth', agentId, instanceId, health }),
      (r) => {
        const result = r!;
        this.apply(result, { agent: agentId, op: 'set_health', instance: instanceId, health });
        return { revision: result.revision };
      },
    );
  }

  /**
   * A discovery stream of `agent` opened: its lease is held from now on (in
   * memory, at once); its identity and lease bookkeeping are written in one
   * transaction, and the returned promise settles when that is durable. If the
   * write fails, the caller ends the stream (which releases the lease).
   */
  agentConnected(agent: AgentInfo): Promise<void> {
    this.leases.streamOpened(agent.agentId);
    // Shared store: the stored lease runs while this replica renews it, so it lapses if this replica dies.
    const lease = this.opts.sharedStore ? this.now() + this.opts.leaseTtlMs : null;
    return this.batcher.submit(
      () => ({ op: 'upsertAgent', agent, lease }),
      (result) => {
        this.agents.set(agent.agentId, agentInfoOf(agent));
        this.apply(result!, { agent: agent.agentId, op: 'connect' });
      },
    );
  }

  /** A discovery stream of the agent closed; after its last one the lease starts running out. */
  agentDisconnected(agentId: string): void {
    if (this.closed) return;
    const expiresAtMs = this.leases.streamClosed(agentId, this.now() + this.opts.leaseTtlMs, this.now());
    if (expiresAtMs === null) return;
    this.batcher
      .submit(() => {
        // Skipped when the agent came back before the flush: its row already says "connected".
        return this.leases.isConnected(agentId) ? null : { op: 'setLease', agentId, leaseExpiresAtMs: expiresAtMs };
      })
      .catch((err) => this.log.warn('cannot record lease expiry', { agent: agentId, err }));
    this.log.info('agent lease running', { agent: agentId, leaseExpiresAtMs: expiresAtMs });
  }

  isConnected(agentId: string): boolean {
    return this.leases.isConnected(agentId);
  }

  /** Writes queued for the next group commit. */
  pendingWrites(): number {
    return this.batcher.pending;
  }

  /**
   * Removes an agent and every instance it owns now, whatever its lease (a
   * revoked agent). Resolves with the number of instances removed.
   */
  removeAgent(agentId: string): Promise<number> {
    if (this.closed) return Promise.resolve(0);
    return this.batcher.submit(
      () => ({ op: 'removeAgent', agentId }),
      (r) => {
        const result = r!;
        this.leases.forget(agentId);
        this.agents.delete(agentId);
        this.opts.onAgentRemoved?.(agentId);
        this.apply(result, { agent: agentId, op: 'removed' });
        return result.removed ?? 0;
      },
    );
  }

  /** Shared store: extends the stored leases of the agents whose streams this replica holds. */
  private renewLeases(): void {
    const agentIds = this.leases.connected();
    if (this.closed || agentIds.length === 0) return;
    this.batcher
      .submit(() => ({ op: 'renewLeases', agentIds, leaseExpiresAtMs: this.now() + this.opts.leaseTtlMs }))
      .catch((err) => this.log.warn('cannot renew agent leases', { agents: agentIds.length, err }));
  }

  /** Shared store, leader only: removes agents whose stored lease lapsed (re-checked in the write). */
  private async sweepStored(): Promise<void> {
    const now = this.now();
    const lapsed = (await this.store.lapsedAgents(now)).filter((id) => !this.leases.isConnected(id));
    await Promise.all(
      lapsed.map((agentId) =>
        this.batcher
          .submit(
            () => ({ op: 'removeLapsedAgent', agentId, nowMs: now }),
            (result) => {
              if (!result || result.removed === undefined) return;
              this.leases.forget(agentId);
              this.agents.delete(agentId);
              this.opts.onAgentRemoved?.(agentId);
              this.apply(result, { agent: agentId, op: 'lease_lapsed' });
              this.log.info('agent lease lapsed', { agent: agentId, instancesRemoved: result.removed, services: result.changedServices });
            },
          )
          .catch((err) => this.log.error('cannot remove agent after lease lapse', { agent: agentId, err })),
      ),
    );
  }

  /** Removes every agent whose lease lapsed, with all its instances (one savepoint per agent, one commit). */
  sweep(): Promise<void> {
    if (this.closed || !this.sweeping) return Promise.resolve();
    if (this.opts.sharedStore) return this.sweepStored().catch((err) => this.log.warn('cannot sweep leases', { err }));
    const lapsed = (agentId: string): boolean => {
      const expires = this.leases.expiresAt(agentId);
      return !this.leases.isConnected(agentId) && expires !== null && expires <= this.now();
    };
    const removals = this.leases.expired(this.now()).map((agentId) =>
      this.batcher
        .submit(
          // Re-checked at flush time: the agent may have reconnected, or an earlier sweep removed it.
          () => (lapsed(agentId) ? { op: 'removeAgent', agentId } : null),
          (result) => {
            if (!result) return;
            this.leases.forget(agentId);
            this.agents.delete(agentId);
            this.opts.onAgentRemoved?.(agentId);
            this.apply(result, { agent: agentId, op: 'lease_lapsed' });
            this.log.info('agent lease lapsed', { agent: agentId, instancesRemoved: result.removed, services: result.changedServices });
          },
        )
        .catch((err) => this.log.error('cannot remove agent after lease lapse', { agent: agentId, err })),
    );
    return Promise.all(removals).then(() => {});
  }

  /** Instances per agent, counted from the in-memory view. */
  private instanceCountsByAgent(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const entry of this.view.list()) for (const e of entry.endpoints) counts.set(e.agentId, (counts.get(e.agentId) ?? 0) + 1);
    return counts;
  }

  /**
   * Replicas: another replica committed changes to `services` (a change
   * notice). Reads those services (instances and versions, one snapshot)
   * and, per service, compares the read (complete at its stored revision X)
   * with the entry held (revision H, complete at C):
   * - C >= X: the entry already holds everything read; kept;
   * - H < X: the read is newer; it replaces the entry;
   * - H = X: the last change was this replica's own commit, patched onto a
   *   base that may have missed another replica's change: the read is the
   *   truth. Same content: the entry is confirmed complete; other content:
   *   replaced under version `X.1`, so agents holding the patched version
   *   take the new content (a version never names two contents);
   * - H > X: this replica committed again after the read began; neither is
   *   whole, so the service is returned to be read again (that read sees
   *   this replica's commit, so it settles on one of the cases above). An
   *   entry newer than the read from before it began cannot happen; should
   *   it, the read replaces it, so no service is read again and again.
   */
  async reloadServices(services: readonly string[], agentsChanged: readonly string[] = []): Promise<string[]> {
    if (services.length === 0) return [];
    // This replica's commits up to here are in the read's snapshot; a later one may not be.
    const committedBefore = this.store.revision();
    // One read per notice, whatever it names (a notice covers a whole batch of another replica, or several notices).
    // A service held here is read from what it is complete at: only rows written since, and its count.
    const unique = [...new Set(services)];
    const held = new Map<string, number>();
    for (const service of unique) {
      const entry = this.view.get(service);
      if (entry && !this.readWhole.delete(service)) held.set(service, entry.completeAt);
    }
    const read = await this.store.agentsAndInstances(agentsChanged, unique, held);
    const versions = read.versions;
    for (const v of versions.values()) if (v > this.readRevision) this.readRevision = v;
    // Agents whose endpoint fields (address, port, zone) changed: their held endpoints are stale.
    const moved = new Set<string>();
    for (const a of read.agents) {
      const before = this.agents.get(a.agentId);
      if (before === undefined || before.address !== a.address || before.inboundPort !== a.inboundPort || before.zone !== a.zone)
        moved.add(a.agentId);
      this.agents.set(a.agentId, agentInfoOf(a));
    }
    const unknown = new Set<string>();
    for (const list of read.instances.values()) for (const i of list) if (!this.agents.has(i.agentId)) unknown.add(i.agentId);
    if (unknown.size > 0)
      for (const a of (await this.store.agentsAndInstances([...unknown], [])).agents) this.agents.set(a.agentId, agentInfoOf(a));
    const changed: string[] = [];
    const again: string[] = [];
    const whole: string[] = [];
    for (const service of unique) {
      const stored = versions.get(service);
      const endpoints = this.endpointsRead(service, read, moved);
      if (endpoints === undefined) {
        // What is held plus what was read is not the service (a removal, a moved agent): read it whole, now.
        this.readWhole.add(service);
        whole.push(service);
        continue;
      }
      const held = this.view.get(service);
      if (stored === undefined) {
        // No instances at the snapshot: the service was emptied (its version row goes with its last instance).
        if (held && held.revision > committedBefore) again.push(service);
        else if (held) {
          this.view.set(service, this.store.revision(), []);
          changed.push(service);
        }
        continue;
      }
      if (held && held.completeAt >= stored) continue;
      if (!held || held.revision < stored) {
        this.view.set(service, stored, endpoints);
        changed.push(service);
      } else if (held.revision === stored) {
        if (sameEndpoints(held.endpoints, endpoints)) this.view.confirm(service);
        else {
          this.log.info('a change of another replica was missing here; replaced', { service, revision: stored });
          this.view.set(service, stored, endpoints, `${stored}.1`);
          changed.push(service);
        }
      } else if (held.revision > committedBefore) {
        again.push(service);
      } else {
        // Not expected (a commit of this replica from before the read is in its snapshot); the read wins, so
        // a service can never be read again and again.
        this.view.set(service, stored, endpoints, `${stored}.1`);
        changed.push(service);
      }
    }
    if (changed.length > 0) {
      this.log.debug('services changed on another replica', { services: changed });
      this.watches.notify(changed);
    }
    // A whole read takes no `held`, so it settles (it cannot come back here as `whole`).
    if (whole.length > 0) again.push(...(await this.reloadServices(whole, agentsChanged)));
    return again;
  }

  /**
   * The endpoints of `service` as `read` found them: the rows read, or for a partial read (the rows written
   * since the entry held here was complete, and the service's count) the rows read and the held endpoints of
   * the other ids. Undefined when that is not the service: the held and read ids are more than the count
   * (something held was removed; store-contract.ts says why equal counts mean equal sets), or a held
   * endpoint's agent moved (`moved`: its address, port or zone changed, which the endpoint carries).
   */
  private endpointsRead(
    service: string,
    read: { instances: Map<string, Instance[]>; counts?: Map<string, number> },
    moved: ReadonlySet<string>,
  ): Endpoint[] | undefined {
    const rows = read.instances.get(service) ?? [];
    const count = read.counts?.get(service);
    if (count === undefined) return rows.map((i) => toEndpoint(i, this.agents.get(i.agentId)));
    const held = this.view.get(service)?.endpoints ?? [];
    if (moved.size > 0) {
      // A held endpoint whose agent moved and that no read row replaces is stale: not the service.
      const readIds = new Set(rows.map((r) => r.instanceId));
      if (held.some((e) => moved.has(e.agentId) && !readIds.has(e.instanceId))) return undefined;
    }
    // The held list, copied at once, with each read row put in by binary search (a read row wins).
    const out = [...held];
    for (const row of rows) {
      const at = indexOf(out, row.instanceId);
      const ep = toEndpoint(row, this.agents.get(row.agentId));
      if (at < out.length && out[at].instanceId === row.instanceId) out[at] = ep;
      else out.splice(at, 0, ep);
    }
    return out.length === count ? out : undefined;
  }

  /**
   * Replicas: a catch-up read after (re)connecting to the change channel or
   * a missed notice: every service whose stored version is not one the entry
   * held here is complete at (or that is gone from the store) is reloaded.
   */
  async catchUp(): Promise<string[]> {
    const versions = await this.store.serviceVersions();
    const stale: string[] = [];
    for (const [service, version] of versions) if (this.view.get(service)?.completeAt !== version) stale.push(service);
    for (const entry of this.view.list()) if (!versions.has(entry.service)) stale.push(entry.service);
    return this.reloadServices(stale);
  }

  /** After a commit: patch the changed services' entries, then notify their watchers. */
  private apply(result: ChangeResult, fields: Record<string, unknown>): void {
    if (result.changedServices.length === 0) return;
    const revision = result.revision;
    const reload = new Set(result.reloadServices);
    const perService = new Map<string, { upserts: Endpoint[]; removed: string[] }>();
    for (const change of result.instanceChanges) {
      if (reload.has(change.service)) continue;
      let p = perService.get(change.service);
      if (!p) {
        p = { upserts: [], removed: [] };
        perService.set(change.service, p);
      }
      if (change.instance) p.upserts.push(toEndpoint(change.instance, this.agents.get(change.instance.agentId)));
      else p.removed.push(change.instanceId);
    }
    for (const service of result.changedServices) {
      const p = perService.get(service);
      // Replicas: a read of another replica's later change, which includes this commit, already replaced the entry.
      if ((this.view.get(service)?.revision ?? -1) >= revision) continue;
      if (reload.has(service) || !p) {
        // Rare: every endpoint of an agent moved with it (address, port, zone): the store read them back in the write,
        // under the commit lock, so the entry is complete.
        const endpoints = (result.reloaded?.[service] ?? []).map((i) => toEndpoint(i, this.agents.get(i.agentId)));
        this.view.set(service, revision, endpoints);
      } else {
        this.view.patch(service, revision, p.upserts, p.removed, !this.opts.sharedStore);
      }
    }
    this.log.debug('services changed', { ...fields, revision: result.revision, services: result.changedServices });
    this.watches.notify(result.changedServices);
  }
}
