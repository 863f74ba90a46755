/**
 * Fast path of PgRegistryStore.commitBatch for a batch made only of
 * `register` writes (what agents' Register calls produce): a constant number
 * of round trips per batch, whatever its size.
 *
 * Contract: the caller holds the registry commit lock and the batch's
 * revision counter. `planRegisterBatch` reads every row the batch can touch
 * in ONE query, then replays the writes in order against that state in
 * memory, deciding each write's outcome exactly as the per-write path does
 * (an instance id owned by another agent fails that write alone, before it
 * changes anything, so no savepoint is needed). It returns null, having
 * written nothing, when a write needs what only the per-write path does (an
 * agent whose address, port or zone changes: its services must be reloaded
 * from the database); the caller then runs the per-write path in the same
 * transaction. `applyRegisterPlan` writes the final state in three
 * statements (agents upsert, instances delete, instances upsert).
 */
import { ValidationError } from '@weft/shared';
import type pg from 'pg';
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

/** The batch's rows as committed: the agents it names, their instances and every instance id it names. */
async function readState(c: pg.PoolClient, writes: readonly RegisterWrite[]) {
  const agentIds = [...new Set(writes.map((w) => w.agent.agentId))];
  const ids = [...new Set(writes.flatMap((w) => w.instances.map((i) => i.instanceId)))];
  const found = await c.query<{ t: string; j: string }>(
    `SELECT 'i' AS t, row_to_json(i)::text AS j FROM (SELECT ${INSTANCE_COLUMNS} FROM instances
       WHERE instance_id = ANY($1::text[]) OR agent_id = ANY($2::text[])) i
     UNION ALL SELECT 'a', row_to_json(a)::text FROM agents a WHERE agent_id = ANY($2::text[])`,
    [ids, agentIds],
  );
  const agents = new Map<string, AgentRow>();
  const instances = new Map<string, InstanceRow | null>();
  for (const r of found.rows) {
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

export async function planRegisterBatch(
  c: pg.PoolClient,
  writes: readonly RegisterWrite[],
  nextRevision: () => number,
  current: number,
): Promise<RegisterPlan | null> {
  const { agents, instances } = await readState(c, writes);
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

/** Writes the plan: at most three statements, each one for all rows of the batch. */
export async function applyRegisterPlan(c: pg.PoolClient, plan: RegisterPlan): Promise<void> {
  if (plan.agents.length > 0) {
    const col = <K extends keyof AgentRow>(k: K) => plan.agents.map((a) => a[k]);
    await c.query(
      `INSERT INTO agents (agent_id, hostname, address, inbound_port, zone, version, lease_expires_at_ms, revision)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
       ON CONFLICT (agent_id) DO UPDATE SET hostname = excluded.hostname, address = excluded.address,
         inbound_port = excluded.inbound_port, zone = excluded.zone, version = excluded.version,
         lease_expires_at_ms = excluded.lease_expires_at_ms, revision = excluded.revision`,
      [
        col('agent_id'),
        col('hostname'),
        col('address'),
        col('inbound_port'),
        col('zone'),
        col('version'),
        col('lease_expires_at_ms'),
        col('revision'),
      ],
    );
  }
  if (plan.deletes.length > 0) await c.query('DELETE FROM instances WHERE instance_id = ANY($1::text[])', [plan.deletes]);
  if (plan.upserts.length > 0) {
    const col = <K extends keyof InstanceRow>(k: K) => plan.upserts.map((r) => r[k]);
    await c.query(
      `INSERT INTO instances (${INSTANCE_COLUMNS})
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[], $8::text[],
         $9::text[], $10::text[], $11::text[], $12::bigint[])
       ON CONFLICT (instance_id) DO UPDATE SET service = excluded.service, agent_id = excluded.agent_id,
         address = excluded.address, port = excluded.port, zone = excluded.zone, weight = excluded.weight,
         tags = excluded.tags, metadata = excluded.metadata, health = excluded.health, protocol = excluded.protocol,
         revision = excluded.revision`,
      [
        col('instance_id'),
        col('service'),
        col('agent_id'),
        col('address'),
        col('port'),
        col('zone'),
        col('weight'),
        col('tags'),
        col('metadata'),
        col('health'),
        col('protocol'),
        col('revision'),
      ],
    );
  }
}
