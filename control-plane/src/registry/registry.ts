/**
 * The registry: domain logic between the store and the servers. It owns the
 * in-memory endpoint view, the watch index and the agents' session leases, and
 * knows nothing of gRPC.
 *
 * Every change goes store-first: the store commits one transaction and reports
 * the services it changed; only then is the view updated and are the watchers
 * of exactly those services notified. A failed change therefore leaves the
 * view, the watchers and the database as they were.
 */
import type { AgentInfo, Health, InstanceSpec, Logger } from '@weft/shared';
import type { ChangeResult, SqliteStore } from '../store/sqlite-store.js';
import { EndpointView, type ServiceEntry, toEndpoint } from './endpoint-view.js';
import { LeaseTable } from './leases.js';
import { type WatchCallback, WatchIndex } from './watch-index.js';

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
}

/** An agent as the registry sees it (for ListAgents and /v1/agents). */
export interface AgentRecord {
  info: AgentInfo;
  connected: boolean;
  /** Null while connected. */
  leaseExpiresAtMs: number | null;
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
  private readonly now: () => number;
  private readonly log: Logger;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly store: SqliteStore,
    private readonly opts: RegistryOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.log = opts.logger;
  }

  /** Builds the view from the store, grants every known agent the restart grace, starts the lease sweeper. */
  start(): void {
    const graceUntil = this.now() + this.opts.restartGraceMs;
    for (const a of this.store.listAgents()) {
      this.agents.set(a.agentId, agentInfoOf(a));
      this.leases.grant(a.agentId, graceUntil);
    }
    const versions = this.store.serviceVersions();
    const byService = new Map<string, ReturnType<SqliteStore['listInstances']>>();
    for (const inst of this.store.listInstances()) {
      const list = byService.get(inst.service) ?? [];
      list.push(inst);
      byService.set(inst.service, list);
    }
    for (const [service, instances] of byService) {
      const version = String(versions.get(service) ?? this.store.revision());
      this.view.set(
        service,
        version,
        instances.map((i) => toEndpoint(i, this.agents.get(i.agentId))),
      );
    }
    const interval = this.opts.sweepIntervalMs ?? Math.max(10, Math.min(1000, Math.floor(this.opts.leaseTtlMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), interval);
    this.sweeper.unref();
    this.log.info('registry loaded', {
      revision: this.store.revision(),
      agents: this.agents.size,
      services: this.view.size,
      graceMs: this.opts.restartGraceMs,
    });
  }

  /** Stops the sweeper; later stream closes no longer touch the store. */
  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  revision(): number {
    return this.store.revision();
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

  /** Agents that are connected or still within their lease, sorted by id. */
  agentRecords(): AgentRecord[] {
    const now = this.now();
    const counts = this.store.instanceCountsByAgent();
    const out: AgentRecord[] = [];
    for (const info of [...this.agents.values()].sort((a, b) => (a.agentId < b.agentId ? -1 : 1))) {
      const connected = this.leases.isConnected(info.agentId);
      const leaseExpiresAtMs = this.leases.expiresAt(info.agentId);
      if (!connected && leaseExpiresAtMs !== null && leaseExpiresAtMs <= now) continue;
      out.push({ info, connected, leaseExpiresAtMs, instances: counts.get(info.agentId) ?? 0 });
    }
    return out;
  }

  /** Upserts `instances` for `agent` (see SqliteStore.registerInstances). */
  register(agent: AgentInfo, instances: readonly InstanceSpec[], replaceAll: boolean): { revision: number } {
    const result = this.store.registerInstances(agent, instances, replaceAll);
    this.agents.set(agent.agentId, agentInfoOf(agent));
    if (!this.leases.isConnected(agent.agentId)) {
      // An agent that registers before (or without) opening its stream still gets a lease.
      const until = this.now() + this.opts.leaseTtlMs;
      this.leases.grant(agent.agentId, until);
      this.store.setAgentLease(agent.agentId, this.leases.expiresAt(agent.agentId));
    }
    this.apply(result, { agent: agent.agentId, op: 'register' });
    return { revision: result.revision };
  }

  deregister(agentId: string, instanceIds: readonly string[]): { revision: number; removed: number } {
    const result = this.store.deregister(agentId, instanceIds);
    this.apply(result, { agent: agentId, op: 'deregister' });
    return { revision: result.revision, removed: result.removed };
  }

  setHealth(agentId: string, instanceId: string, health: Health): { revision: number } {
    const result = this.store.setHealth(agentId, instanceId, health);
    this.apply(result, { agent: agentId, op: 'set_health', instance: instanceId, health });
    return { revision: result.revision };
  }

  /** A discovery stream of `agent` opened: its identity may have changed, and its lease is held. */
  agentConnected(agent: AgentInfo): void {
    const result = this.store.upsertAgent(agent);
    this.store.setAgentLease(agent.agentId, null);
    // Last, so a failed write above leaves no stream counted on the lease.
    this.agents.set(agent.agentId, agentInfoOf(agent));
    this.leases.streamOpened(agent.agentId);
    this.apply(result, { agent: agent.agentId, op: 'connect' });
  }

  /** A discovery stream of the agent closed; after its last one the lease starts running out. */
  agentDisconnected(agentId: string): void {
    if (this.closed) return;
    const expiresAtMs = this.leases.streamClosed(agentId, this.now() + this.opts.leaseTtlMs);
    if (expiresAtMs === null) return;
    try {
      this.store.setAgentLease(agentId, expiresAtMs);
    } catch (err) {
      this.log.warn('cannot record lease expiry', { agent: agentId, err });
    }
    this.log.info('agent lease running', { agent: agentId, leaseExpiresAtMs: expiresAtMs });
  }

  isConnected(agentId: string): boolean {
    return this.leases.isConnected(agentId);
  }

  /** Removes every agent whose lease lapsed, with all its instances (one transaction per agent). */
  sweep(): void {
    if (this.closed) return;
    for (const agentId of this.leases.expired(this.now())) {
      try {
        const result = this.store.removeAgent(agentId);
        this.leases.forget(agentId);
        this.agents.delete(agentId);
        this.apply(result, { agent: agentId, op: 'lease_lapsed' });
        this.log.info('agent lease lapsed', { agent: agentId, instancesRemoved: result.removed, services: result.changedServices });
      } catch (err) {
        this.log.error('cannot remove agent after lease lapse', { agent: agentId, err });
      }
    }
  }

  /** After a commit: rebuild the changed services' entries, then notify their watchers. */
  private apply(result: ChangeResult, fields: Record<string, unknown>): void {
    if (result.changedServices.length === 0) return;
    const version = String(result.revision);
    for (const service of result.changedServices) {
      const endpoints = this.store.instancesOfService(service).map((i) => toEndpoint(i, this.agents.get(i.agentId)));
      this.view.set(service, version, endpoints);
    }
    this.log.debug('services changed', { ...fields, revision: result.revision, services: result.changedServices });
    this.watches.notify(result.changedServices);
  }
}
