/**
 * The SQLite backend of the store contract (store-contract.ts): the embedded
 * default, one file in the data dir, one process (the data-dir lock keeps a
 * second one out). The synchronous stores (sqlite-store.ts, policy-store.ts,
 * trust-store.ts) do the work on one shared connection; this file only puts
 * them behind the async contract.
 *
 * Every call runs to completion synchronously before its promise settles, so
 * no two transactions ever interleave on the shared connection. Revisions are
 * counters in the `meta` table: with one process per file, that is the whole
 * story (PostgreSQL needs sequences because several replicas write).
 */
import type Database from 'better-sqlite3';
import { openDatabase } from './database.js';
import { PolicyStore } from './policy-store.js';
import { SqliteStore } from './sqlite-store.js';
import type {
  ChangeResult,
  ControlPlaneStore,
  PolicyStoreContract,
  RegistrySnapshot,
  RegistryStore,
  RegistryWrite,
  TrustStoreContract,
  WriteOutcome,
} from './store-contract.js';
import { TrustStore } from './trust-store.js';

export class SqliteRegistryStore implements RegistryStore {
  constructor(readonly sync: SqliteStore) {}

  revision(): number {
    return this.sync.revision();
  }

  async load(): Promise<RegistrySnapshot> {
    return {
      revision: this.sync.revision(),
      agents: this.sync.listAgents(),
      instances: this.sync.listInstances(),
      serviceVersions: this.sync.serviceVersions(),
    };
  }

  async agent(agentId: string) {
    return this.sync.getAgent(agentId);
  }

  async instancesOfService(service: string) {
    return this.sync.instancesOfService(service);
  }

  async agentsAndInstances(agentIds: readonly string[], services: readonly string[]) {
    const agents = [...new Set(agentIds)].flatMap((id) => this.sync.getAgent(id) ?? []);
    const stored = this.sync.serviceVersions();
    const versions = new Map(services.flatMap((s) => (stored.has(s) ? [[s, stored.get(s)!] as const] : [])));
    return { agents, instances: new Map(services.map((s) => [s, this.sync.instancesOfService(s)])), versions };
  }

  async serviceVersions() {
    return this.sync.serviceVersions();
  }

  async lapsedAgents(nowMs: number) {
    return this.sync
      .listAgents()
      .filter((a) => a.leaseExpiresAtMs !== null && a.leaseExpiresAtMs <= nowMs)
      .map((a) => a.agentId);
  }

  async commitBatch(writes: readonly RegistryWrite[]): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = [];
    // One transaction; each store change inside it is a savepoint (better-sqlite3 nests them).
    this.sync.group(() => {
      for (const w of writes) {
        try {
          outcomes.push({ ok: true, result: this.run(w) });
        } catch (err) {
          outcomes.push({ ok: false, err });
        }
      }
    });
    return outcomes;
  }

  private run(w: RegistryWrite): ChangeResult {
    let result: ChangeResult;
    switch (w.op) {
      case 'upsertAgent':
        result = this.sync.upsertAgent(w.agent, w.lease);
        break;
      case 'register':
        result = this.sync.registerInstances(w.agent, w.instances, w.replaceAll, w.lease);
        break;
      case 'deregister':
        result = this.sync.deregister(w.agentId, w.instanceIds);
        break;
      case 'setHealth':
        result = this.sync.setHealth(w.agentId, w.instanceId, w.health);
        break;
      case 'removeAgent':
        result = this.sync.removeAgent(w.agentId);
        break;
      case 'setLease':
        this.sync.setAgentLease(w.agentId, w.leaseExpiresAtMs);
        return this.nothing();
      case 'renewLeases':
        for (const id of w.agentIds) this.sync.setAgentLease(id, w.leaseExpiresAtMs);
        return this.nothing();
      case 'removeLapsedAgent': {
        const lease = this.sync.getAgent(w.agentId)?.leaseExpiresAtMs ?? null;
        if (lease === null || lease > w.nowMs) return this.nothing();
        result = this.sync.removeAgent(w.agentId);
        break;
      }
    }
    // Still inside the write's savepoint: what the rebuilt services hold as of this write.
    if (result.reloadServices.length > 0) {
      result.reloaded = Object.fromEntries(result.reloadServices.map((s) => [s, this.sync.instancesOfService(s)]));
    }
    return result;
  }

  private nothing(): ChangeResult {
    return { revision: this.sync.revision(), changedServices: [], instanceChanges: [], reloadServices: [] };
  }
}

export class SqlitePolicyStore implements PolicyStoreContract {
  constructor(readonly sync: PolicyStore) {}
  revision() {
    return this.sync.revision();
  }
  async refreshRevision() {
    return this.sync.revision();
  }
  async list() {
    return this.sync.list();
  }
  async plan(writes: Parameters<PolicyStore['plan']>[0]) {
    return this.sync.plan(writes);
  }
  async commit(writes: Parameters<PolicyStore['commit']>[0], description: string) {
    return this.sync.commit(writes, description);
  }
  async history(service: string | undefined, limit: number) {
    return this.sync.history(service, limit);
  }
  async hasRevision(revision: number) {
    return this.sync.hasRevision(revision);
  }
  async writesToRestore(revision: number) {
    return this.sync.writesToRestore(revision);
  }
}

/** Every method of the synchronous TrustStore, returning promises. */
export function sqliteTrustStore(sync: TrustStore): TrustStoreContract {
  return {
    insertToken: async (t) => sync.insertToken(t),
    token: async (id) => sync.token(id),
    listTokens: async () => sync.listTokens(),
    countTokens: async (kind) => sync.countTokens(kind),
    useToken: async (id) => sync.useToken(id),
    revokeToken: async (id, nowMs) => sync.revokeToken(id, nowMs),
    recordCertificate: async (c) => sync.recordCertificate(c),
    recordCertificates: async (writes) => sync.recordCertificates(writes),
    latestCertificates: async () => sync.latestCertificates(),
    latestCertificate: async (agentId) => sync.latestCertificate(agentId),
    revokeAgent: async (agentId, nowMs, reason) => sync.revokeAgent(agentId, nowMs, reason),
    revokedAgents: async () => sync.revokedAgents(),
    revokedSerials: async (nowMs) => sync.revokedSerials(nowMs),
    trustRevision: async () => sync.trustRevision(),
  };
}

/** The store contract on an opened SQLite database (closing the store closes it). */
export function sqliteStoreOn(db: Database.Database, file: string): ControlPlaneStore {
  return {
    kind: 'sqlite',
    location: file,
    registry: new SqliteRegistryStore(SqliteStore.on(db)),
    policy: new SqlitePolicyStore(PolicyStore.on(db)),
    trust: sqliteTrustStore(TrustStore.on(db)),
    close: async () => {
      if (db.open) db.close();
    },
  };
}

/** Opens (creating and migrating) the SQLite file behind the store contract. */
export function openSqliteStore(file: string): ControlPlaneStore {
  return sqliteStoreOn(openDatabase(file), file);
}
