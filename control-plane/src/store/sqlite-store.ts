/**
 * The registry's durable state in SQLite; the only code in the control plane
 * that speaks SQL.
 *
 * Contract:
 * - Every change runs in one transaction. A change that alters anything bumps
 *   the global revision by one and records that revision on every row it
 *   touched and on every service whose endpoints it changed; a change that
 *   alters nothing writes nothing and keeps the revision.
 * - A failure anywhere in a change (a conflict, a constraint) rolls back the
 *   whole change; the in-memory revision moves only after a commit.
 *
 * Durability: WAL with synchronous=FULL. Versions handed to agents are
 * revisions; if a committed revision could vanish (power loss under
 * synchronous=NORMAL), the next changes would reissue the same version numbers
 * for different content, and an agent holding the old one would keep stale
 * endpoints after reconnecting. In WAL mode FULL costs one append-only fsync
 * per change, which the registry's write rate easily affords.
 */
import type { AgentInfo, Health, Instance, InstanceSpec } from '@weft/shared';
import { NotFoundError, ValidationError } from '@weft/shared';
import type Database from 'better-sqlite3';
import { openDatabase } from './database.js';
import {
  type AgentRow,
  agentFromRow,
  INSTANCE_COLUMNS,
  type InstanceRow,
  instanceFromRow,
  instanceOf,
  instanceValues,
  sameInstance,
} from './rows.js';
import type { ChangeResult, InstanceChange, LeaseWrite, StoredAgent } from './store-contract.js';

export type { ChangeResult, InstanceChange, LeaseWrite, StoredAgent };

/** State of the change being built inside one transaction. */
interface Tx {
  readonly next: number;
  readonly services: Set<string>;
  readonly instances: InstanceChange[];
  readonly reload: Set<string>;
  touched: boolean;
}

export class SqliteStore {
  private readonly db: Database.Database;
  private rev: number;
  private readonly q;
  /** One transaction function for every change (a savepoint when called inside group()). */
  private readonly runChange: (fn: (tx: Tx) => object) => { out: object; tx: Tx };

  private constructor(db: Database.Database) {
    this.db = db;
    this.q = {
      revision: db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'revision'"),
      setRevision: db.prepare<[number]>("UPDATE meta SET value = ? WHERE key = 'revision'"),
      agent: db.prepare<[string], AgentRow>('SELECT * FROM agents WHERE agent_id = ?'),
      agents: db.prepare<[], AgentRow>('SELECT * FROM agents ORDER BY agent_id'),
      insertAgent: db.prepare(
        `INSERT INTO agents (agent_id, hostname, address, inbound_port, zone, version, lease_expires_at_ms, revision)
         VALUES (@agent_id, @hostname, @address, @inbound_port, @zone, @version, @lease_expires_at_ms, @revision)`,
      ),
      updateAgent: db.prepare(
        `UPDATE agents SET hostname = @hostname, address = @address, inbound_port = @inbound_port, zone = @zone,
         version = @version, revision = @revision WHERE agent_id = @agent_id`,
      ),
      setLease: db.prepare<[number | null, string]>('UPDATE agents SET lease_expires_at_ms = ? WHERE agent_id = ?'),
      deleteAgent: db.prepare<[string]>('DELETE FROM agents WHERE agent_id = ?'),
      instance: db.prepare<[string], InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?`),
      instances: db.prepare<[], InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM instances ORDER BY service, instance_id`),
      instancesOfService: db.prepare<[string], InstanceRow>(
        `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE service = ? ORDER BY instance_id`,
      ),
      instancesOfAgent: db.prepare<[string], InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE agent_id = ?`),
      servicesOfAgent: db.prepare<[string], { service: string }>('SELECT DISTINCT service FROM instances WHERE agent_id = ?'),
      countByAgent: db.prepare<[], { agent_id: string; n: number }>('SELECT agent_id, COUNT(*) AS n FROM instances GROUP BY agent_id'),
      countOfService: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM instances WHERE service = ?'),
      insertInstance: db.prepare(
        `INSERT INTO instances (${INSTANCE_COLUMNS})
         VALUES (@instance_id, @service, @agent_id, @address, @port, @zone, @weight, @tags, @metadata, @health, @protocol, @revision)`,
      ),
      updateInstance: db.prepare(
        `UPDATE instances SET service = @service, agent_id = @agent_id, address = @address, port = @port, zone = @zone,
         weight = @weight, tags = @tags, metadata = @metadata, health = @health, protocol = @protocol, revision = @revision
         WHERE instance_id = @instance_id`,
      ),
      setHealth: db.prepare<[string, number, string]>('UPDATE instances SET health = ?, revision = ? WHERE instance_id = ?'),
      deleteInstance: db.prepare<[string]>('DELETE FROM instances WHERE instance_id = ?'),
      deleteInstancesOfAgent: db.prepare<[string]>('DELETE FROM instances WHERE agent_id = ?'),
      serviceVersions: db.prepare<[], { service: string; revision: number }>('SELECT service, revision FROM service_versions'),
      upsertServiceVersion: db.prepare<[string, number]>(
        'INSERT INTO service_versions (service, revision) VALUES (?, ?) ON CONFLICT (service) DO UPDATE SET revision = excluded.revision',
      ),
      deleteServiceVersion: db.prepare<[string]>('DELETE FROM service_versions WHERE service = ?'),
    };
    this.rev = this.q.revision.get()!.value;
    this.runChange = db.transaction((fn: (tx: Tx) => object) => {
      const tx: Tx = { next: this.rev + 1, services: new Set(), instances: [], reload: new Set(), touched: false };
      const out = fn(tx);
      if (tx.touched) {
        this.q.setRevision.run(tx.next);
        for (const service of tx.services) {
          if (this.q.countOfService.get(service)!.n > 0) this.q.upsertServiceVersion.run(service, tx.next);
          else this.q.deleteServiceVersion.run(service);
        }
      }
      return { out, tx };
    });
  }

  /** Opens (creating if needed) the database file and applies pending migrations. */
  /** Opens (creating and migrating) the database file with a store of its own. */
  static open(file: string): SqliteStore {
    return new SqliteStore(openDatabase(file));
  }

  /** A store on an already opened database (see database.ts), shared with other stores. */
  static on(db: Database.Database): SqliteStore {
    return new SqliteStore(db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** The global revision of the last committed change. */
  revision(): number {
    return this.rev;
  }

  listAgents(): StoredAgent[] {
    return this.q.agents.all().map(agentFromRow);
  }

  getAgent(agentId: string): StoredAgent | undefined {
    const row = this.q.agent.get(agentId);
    return row ? agentFromRow(row) : undefined;
  }

  /** Every instance, ordered by service then instance id. */
  listInstances(): Instance[] {
    return this.q.instances.all().map(instanceFromRow);
  }

  instancesOfService(service: string): Instance[] {
    return this.q.instancesOfService.all(service).map(instanceFromRow);
  }

  instanceCountsByAgent(): Map<string, number> {
    return new Map(this.q.countByAgent.all().map((r) => [r.agent_id, r.n]));
  }

  /** service -> revision at which its endpoints last changed (services with instances only). */
  serviceVersions(): Map<string, number> {
    return new Map(this.q.serviceVersions.all().map((r) => [r.service, r.revision]));
  }

  /**
   * Runs `fn` (which makes store changes) as ONE transaction: the changes it
   * makes become savepoints inside it, so one that throws is rolled back alone
   * and the others still commit together (group commit, see write-batcher.ts).
   * If the commit fails, nothing is stored and the revision is restored.
   */
  group<T>(fn: () => T): T {
    const before = this.rev;
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      this.rev = before;
      throw err;
    }
  }

  /** Inserts or updates an agent's identity, and its lease bookkeeping in the same transaction. */
  upsertAgent(agent: AgentInfo, lease?: LeaseWrite): ChangeResult {
    return this.change((tx) => {
      this.upsertAgentTx(tx, agent, lease);
      return {};
    });
  }

  /**
   * Upserts `instances` for `agent` (and the agent itself). With `replaceAll`,
   * the agent's other instances are removed in the same transaction. An
   * instance id owned by another agent fails the whole change.
   */
  registerInstances(agent: AgentInfo, instances: readonly InstanceSpec[], replaceAll: boolean, lease?: LeaseWrite): ChangeResult {
    return this.change((tx) => {
      // Checked before the first write so a conflict never leaves a partial change behind.
      instances.forEach((inst, i) => {
        const owner = this.q.instance.get(inst.instanceId)?.agent_id;
        if (owner !== undefined && owner !== agent.agentId) {
          throw new ValidationError(
            `instances[${i}].instance_id`,
            `instance ${JSON.stringify(inst.instanceId)} is already registered by agent ${JSON.stringify(owner)}`,
          );
        }
      });
      this.upsertAgentTx(tx, agent, lease);
      const keep = new Set<string>();
      for (const inst of instances) {
        keep.add(inst.instanceId);
        const values = instanceValues(agent.agentId, inst);
        const row = this.q.instance.get(inst.instanceId);
        if (!row) {
          this.q.insertInstance.run({ ...values, revision: tx.next });
        } else if (!sameInstance(row, values)) {
          this.q.updateInstance.run({ ...values, revision: tx.next });
          tx.services.add(row.service);
          if (row.service !== inst.service) tx.instances.push({ service: row.service, instanceId: row.instance_id, instance: null });
        } else {
          continue;
        }
        tx.services.add(inst.service);
        tx.instances.push({ service: inst.service, instanceId: inst.instanceId, instance: instanceOf(agent.agentId, inst) });
        tx.touched = true;
      }
      if (replaceAll) {
        for (const row of this.q.instancesOfAgent.all(agent.agentId)) {
          if (keep.has(row.instance_id)) continue;
          this.q.deleteInstance.run(row.instance_id);
          tx.services.add(row.service);
          tx.instances.push({ service: row.service, instanceId: row.instance_id, instance: null });
          tx.touched = true;
        }
      }
      return {};
    });
  }

  /** Removes instances of `agentId`; an id the agent does not own fails the whole change. */
  deregister(agentId: string, instanceIds: readonly string[]): ChangeResult & { removed: number } {
    return this.change((tx) => {
      const ids = [...new Set(instanceIds)];
      const rows = ids.map((id, i) => {
        const row = this.q.instance.get(id);
        if (!row || row.agent_id !== agentId) {
          throw new NotFoundError(
            `instance_ids[${i}]: instance ${JSON.stringify(id)} is not registered by agent ${JSON.stringify(agentId)}`,
          );
        }
        return row;
      });
      for (const row of rows) {
        this.q.deleteInstance.run(row.instance_id);
        tx.services.add(row.service);
        tx.instances.push({ service: row.service, instanceId: row.instance_id, instance: null });
        tx.touched = true;
      }
      return { removed: rows.length };
    });
  }

  setHealth(agentId: string, instanceId: string, health: Health): ChangeResult {
    return this.change((tx) => {
      const row = this.q.instance.get(instanceId);
      if (!row || row.agent_id !== agentId) {
        throw new NotFoundError(
          `instance_id: instance ${JSON.stringify(instanceId)} is not registered by agent ${JSON.stringify(agentId)}`,
        );
      }
      if (row.health !== health) {
        this.q.setHealth.run(health, tx.next, instanceId);
        tx.services.add(row.service);
        tx.instances.push({ service: row.service, instanceId, instance: { ...instanceFromRow(row), health } });
        tx.touched = true;
      }
      return {};
    });
  }

  /** Removes an agent and every instance it owned (lease lapse). */
  removeAgent(agentId: string): ChangeResult & { removed: number } {
    return this.change((tx) => {
      for (const row of this.q.instancesOfAgent.all(agentId)) {
        tx.services.add(row.service);
        tx.instances.push({ service: row.service, instanceId: row.instance_id, instance: null });
      }
      const removed = this.q.deleteInstancesOfAgent.run(agentId).changes;
      const agents = this.q.deleteAgent.run(agentId).changes;
      tx.touched = removed + agents > 0;
      return { removed };
    });
  }

  /**
   * Records a lease expiry for operators; not a registry change, so the
   * revision stays. Writes nothing when the stored value is already this one.
   */
  setAgentLease(agentId: string, leaseExpiresAtMs: number | null): void {
    const row = this.q.agent.get(agentId);
    if (row && row.lease_expires_at_ms !== leaseExpiresAtMs) this.q.setLease.run(leaseExpiresAtMs, agentId);
  }

  private upsertAgentTx(tx: Tx, agent: AgentInfo, lease: LeaseWrite): void {
    const row = this.q.agent.get(agent.agentId);
    const values = {
      agent_id: agent.agentId,
      hostname: agent.hostname,
      address: agent.address,
      inbound_port: agent.inboundPort,
      zone: agent.zone,
      version: agent.version,
      revision: tx.next,
    };
    if (!row) {
      this.q.insertAgent.run({ ...values, lease_expires_at_ms: lease ?? null });
      tx.touched = true;
      return;
    }
    if (lease !== undefined && row.lease_expires_at_ms !== lease) this.q.setLease.run(lease, agent.agentId);
    const routingChanged = row.address !== agent.address || row.inbound_port !== agent.inboundPort || row.zone !== agent.zone;
    if (!routingChanged && row.hostname === agent.hostname && row.version === agent.version) return;
    this.q.updateAgent.run(values);
    tx.touched = true;
    // Endpoints carry the agent's address, port and zone: its services change with it.
    if (routingChanged) {
      for (const { service } of this.q.servicesOfAgent.all(agent.agentId)) {
        tx.services.add(service);
        tx.reload.add(service);
      }
    }
  }

  /** Runs `fn` as one transaction and finishes the change: revision, service versions. */
  private change<T extends object>(fn: (tx: Tx) => T): T & ChangeResult {
    const { out, tx } = this.runChange(fn) as { out: T; tx: Tx };
    if (tx.touched) this.rev = tx.next;
    return {
      ...out,
      revision: this.rev,
      changedServices: [...tx.services].sort(),
      instanceChanges: tx.touched ? tx.instances : [],
      reloadServices: tx.touched ? [...tx.reload] : [],
    };
  }
}
