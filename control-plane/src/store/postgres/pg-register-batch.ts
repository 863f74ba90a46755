/**
 * Second path of PgRegistryStore.commitBatch for a batch made only of
 * `register` writes (what agents' Register calls produce), taken when the
 * one-statement path (pg-register-function.ts) failed for another reason than
 * an unavailable database: a constant number of round trips per batch,
 * whatever its size.
 *
 * Contract: the caller holds the registry commit lock and the batch's
 * revision counter. The rows the batch can touch are read in ONE query
 * (`readStateSql`, sent in the round trip that takes the lock); then
 * `planRegisterBatch` replays the writes in order against that state in
 * memory, deciding each write's outcome exactly as the per-write path does
 * (an instance id owned by another agent fails that write alone, before it
 * changes anything, so no savepoint is needed). It returns null, having
 * written nothing, when a write needs what only the per-write path does (an
 * agent whose address, port or zone changes: its services must be reloaded
 * from the database); the caller then runs the per-write path in the same
 * transaction. `applyPlanSql` gives the final state as at most three
 * statements (agents upsert, instances delete, instances upsert), which the
 * caller sends with COMMIT in one round trip: the lock is held for two round
 * trips whatever the batch size. The statements carry their data as JSON
 * literals escaped by the driver (escapeLiteral), as a multi-statement
 * message cannot take bind parameters.
 */
import { ValidationError } from '@weft/shared';
import { type AgentRow, INSTANCE_COLUMNS, type InstanceRow, instanceOf, instanceValues, sameInstance } from '../rows.js';
import type { ChangeResult, RegistryWrite, WriteOutcome } from '../store-contract.js';

type RegisterWrite = Extract<RegistryWrite, { op: 'register' }>;

export interface RegisterPlan {
  outcomes: WriteOutcome[];
  /** Final rows of agents the batch changed. */
  agents: AgentRow[];
  /** Final rows of instances the batch wrote. */
  upserts: InstanceRow[];
  /** Instances the batch removed (and did not write again). */
  deletes: string[];
}

export function isRegisterBatch(writes: readonly RegistryWrite[]): writes is readonly RegisterWrite[] {
  return writes.every((w) => w.op === 'register');
}

/** Quotes a value for SQL text: its JSON as a string literal, escaped by the driver. */
export type JsonLiteral = (value: unknown) => string;

/** The query reading the batch's rows as committed: the agents it names, their instances and every instance id it names. */
export function readStateSql(writes: readonly RegisterWrite[], lit: JsonLiteral): string {
  const agentIds = [...new Set(writes.map((w) => w.agent.agentId))];
  const ids = [...new Set(writes.flatMap((w) => w.instances.map((i) => i.instanceId)))];
  const a = `ARRAY(SELECT json_array_elements_text(${lit(agentIds)}::json))`;
  const i = `ARRAY(SELECT json_array_elements_text(${lit(ids)}::json))`;
  return `SELECT 'i' AS t, row_to_json(i)::text AS j FROM (SELECT ${INSTANCE_COLUMNS} FROM instances
       WHERE instance_id = ANY(${i}) OR agent_id = ANY(${a})) i
     UNION ALL SELECT 'a', row_to_json(a)::text FROM agents a WHERE agent_id = ANY(${a})`;
}

export interface BatchState {
  agents: Map<string, AgentRow>;
  instances: Map<string, InstanceRow | null>;
}

export function parseState(rows: readonly { t: string; j: string }[]): BatchState {
  const agents = new Map<string, AgentRow>();
  const instances = new Map<string, InstanceRow | null>();
  for (const r of rows) {
    if (r.t === 'a') {
      const a = JSON.parse(r.j) as AgentRow;
      agents.set(a.agent_id, a);
    } else {
      const i = JSON.parse(r.j) as InstanceRow;
      instances.set(i.instance_id, i);
    }
  }
  return { agents, instances };
}

export function planRegisterBatch(
  { agents, instances }: BatchState,
  writes: readonly RegisterWrite[],
  nextRevision: () => number,
  current: number,
): RegisterPlan | null {
  const dirtyAgents = new Set<string>();
  const dirtyInstances = new Set<string>();
  const outcomes: WriteOutcome[] = [];
  for (const w of writes) {
    const agentId = w.agent.agentId;
    const conflict = w.instances.findIndex((inst) => {
      const owner = instances.get(inst.instanceId)?.agent_id;
      return owner !== undefined && owner !== agentId;
    });
    if (conflict >= 0) {
      const inst = w.instances[conflict];
      const owner = instances.get(inst.instanceId)?.agent_id;
      outcomes.push({
        ok: false,
        err: new ValidationError(
          `instances[${conflict}].instance_id`,
          `instance ${JSON.stringify(inst.instanceId)} is already registered by agent ${JSON.stringify(owner)}`,
        ),
      });
      continue;
    }
    let rev: number | undefined;
    const revision = () => (rev ??= nextRevision());
    const services = new Set<string>();
    const changes: ChangeResult['instanceChanges'] = [];
    // The agent, as upsertAgent of the per-write path.
    const a = w.agent;
    const row = agents.get(agentId);
    if (!row) {
      agents.set(agentId, {
        agent_id: agentId,
        hostname: a.hostname,
        address: a.address,
        inbound_port: a.inboundPort,
        zone: a.zone,
        version: a.version,
        lease_expires_at_ms: w.lease ?? null,
        revision: revision(),
      });
      dirtyAgents.add(agentId);
    } else {
      const routingChanged = row.address !== a.address || row.inbound_port !== a.inboundPort || row.zone !== a.zone;
      // Its services must be reloaded from the database: the per-write path does that (nothing is written yet).
      if (routingChanged) return null;
      if (w.lease !== undefined && row.lease_expires_at_ms !== w.lease) {
        row.lease_expires_at_ms = w.lease;
        dirtyAgents.add(agentId);
      }
      if (row.hostname !== a.hostname || row.version !== a.version) {
        Object.assign(row, { hostname: a.hostname, version: a.version, revision: revision() });
        dirtyAgents.add(agentId);
      }
    }
    const keep = new Set<string>();
    for (const inst of w.instances) {
      keep.add(inst.instanceId);
      const values = instanceValues(agentId, inst);
      const old = instances.get(inst.instanceId);
      if (old && sameInstance(old, values)) continue;
      instances.set(inst.instanceId, { ...values, revision: revision() });
      dirtyInstances.add(inst.instanceId);
      if (old) {
        services.add(old.service);
        if (old.service !== inst.service) changes.push({ service: old.service, instanceId: old.instance_id, instance: null });
      }
      services.add(inst.service);
      changes.push({ service: inst.service, instanceId: inst.instanceId, instance: instanceOf(agentId, inst) });
    }
    if (w.replaceAll) {
      for (const [id, r] of instances) {
        if (!r || r.agent_id !== agentId || keep.has(id)) continue;
        revision();
        instances.set(id, null);
        dirtyInstances.add(id);
        services.add(r.service);
        changes.push({ service: r.service, instanceId: id, instance: null });
      }
    }
    const result: ChangeResult =
      rev === undefined
        ? { revision: current, changedServices: [], instanceChanges: [], reloadServices: [], removed: undefined }
        : { revision: rev, changedServices: [...services].sort(), instanceChanges: changes, reloadServices: [], removed: undefined };
    outcomes.push({ ok: true, result });
    // A later write that changes nothing reports the batch's revision so far, as the per-write path does.
    current = Math.max(current, result.revision);
  }
  const upserts: InstanceRow[] = [];
  const deletes: string[] = [];
  for (const id of dirtyInstances) {
    const r = instances.get(id);
    if (r) upserts.push(r);
    else deletes.push(id);
  }
  return { outcomes, agents: [...dirtyAgents].map((id) => agents.get(id)!), upserts, deletes };
}

const AGENT_COLUMNS = 'agent_id, hostname, address, inbound_port, zone, version, lease_expires_at_ms, revision';

/** The plan's writes: at most three statements, each one for all rows of the batch. */
export function applyPlanSql(plan: RegisterPlan, lit: JsonLiteral): string[] {
  const sql: string[] = [];
  if (plan.agents.length > 0) {
    sql.push(`INSERT INTO agents (${AGENT_COLUMNS})
       SELECT ${AGENT_COLUMNS} FROM json_populate_recordset(NULL::agents, ${lit(plan.agents)}::json)
       ON CONFLICT (agent_id) DO UPDATE SET hostname = excluded.hostname, address = excluded.address,
         inbound_port = excluded.inbound_port, zone = excluded.zone, version = excluded.version,
         lease_expires_at_ms = excluded.lease_expires_at_ms, revision = excluded.revision`);
  }
  if (plan.deletes.length > 0) {
    sql.push(`DELETE FROM instances WHERE instance_id IN (SELECT json_array_elements_text(${lit(plan.deletes)}::json))`);
  }
  if (plan.upserts.length > 0) {
    sql.push(`INSERT INTO instances (${INSTANCE_COLUMNS})
       SELECT ${INSTANCE_COLUMNS} FROM json_populate_recordset(NULL::instances, ${lit(plan.upserts)}::json)
       ON CONFLICT (instance_id) DO UPDATE SET service = excluded.service, agent_id = excluded.agent_id,
         address = excluded.address, port = excluded.port, zone = excluded.zone, weight = excluded.weight,
         tags = excluded.tags, metadata = excluded.metadata, health = excluded.health, protocol = excluded.protocol,
         revision = excluded.revision`);
  }
  return sql;
}

/**
 * service_versions after a batch's writes, as ONE statement (the per-write and
 * the two-round-trip paths; weft_register_batch keeps them itself): each
 * service the batch changed gets the revision of its last change and its
 * number of instances, counted here; one left without instances loses its row.
 */
export function serviceVersionsSql(versions: Map<string, number>, lit: JsonLiteral): string {
  const rows = [...versions].map(([service, revision]) => ({ service, revision }));
  return `WITH v AS (SELECT * FROM json_to_recordset(${lit(rows)}::json) AS t(service text, revision bigint)),
       c AS (SELECT v.service, v.revision, (SELECT count(*) FROM instances i WHERE i.service = v.service) AS n FROM v),
       up AS (
         INSERT INTO service_versions (service, revision, instance_count)
         SELECT c.service, c.revision, c.n FROM c WHERE c.n > 0
         ON CONFLICT (service) DO UPDATE SET revision = excluded.revision, instance_count = excluded.instance_count
         RETURNING 1
       )
       DELETE FROM service_versions sv USING c WHERE sv.service = c.service AND c.n = 0`;
}

/** A parameterised statement as text: each $n replaced by its value quoted by the driver (strings and numbers only). */
export function inlineParams(text: string, values: readonly unknown[], quote: (s: string) => string): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const v = values[Number(n) - 1];
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v === 'string') return quote(v);
    throw new Error(`inlineParams: $${n} is neither a string nor a finite number`);
  });
}
