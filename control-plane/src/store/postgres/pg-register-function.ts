/**
 * A batch made only of `register` and `setHealth` writes (what agents'
 * Register and health calls produce) in ONE round trip: the statement `weft_register_batch` (schema
 * migration 7, replaced by migration 9: pg-register-function-sql.ts) takes the registry commit lock, replays the
 * writes in order with the outcomes the per-write path gives (a batch of
 * independent registrations, the rule under a burst, decided as a whole), takes revisions
 * from the sequence, writes service versions and sends the change notice, and
 * commits on its own (autocommit). The commit lock is therefore held inside
 * the database for one statement, never across a client round trip; batches
 * of all replicas still commit one after another, so revisions are strictly
 * increasing and visible in order.
 *
 * Contract of `commitRegisterBatchInDatabase`: resolves with one outcome per
 * write once the batch committed (durable), or with null, having written
 * nothing, when a write needs the per-write path (an agent whose address, port
 * or zone changes: its services must be read back). Any other failure rejects
 * with the database's error and nothing was written... unless the connection
 * broke after COMMIT, which the caller reports as unavailable without
 * acknowledging anything (as for every batch).
 */

import { NotFoundError, ValidationError } from '@weft/shared';
import type pg from 'pg';
import { type InstanceRow, instanceFromRow, instanceOf, instanceValues } from '../rows.js';
import type { ChangeResult, RegistryWrite, WriteOutcome } from '../store-contract.js';
import type { ChangeStatement } from './pg-database.js';

type RegisterWrite = Extract<RegistryWrite, { op: 'register' }>;
type SetHealthWrite = Extract<RegistryWrite, { op: 'setHealth' }>;
/** The writes weft_register_batch makes. */
export type FunctionWrite = RegisterWrite | SetHealthWrite;

export function isFunctionBatch(writes: readonly RegistryWrite[]): writes is readonly FunctionWrite[] {
  return writes.every((w) => w.op === 'register' || w.op === 'setHealth');
}

/** The revision the notice template is encoded with; weft_register_batch replaces `"rev":<it>}` by the real revision and names. */
const NOTICE_REVISION_PLACEHOLDER = Number.MAX_SAFE_INTEGER;

/** SQLSTATE weft_register_batch raises when an agent's address, port or zone changes (nothing written). */
export const NEEDS_PER_WRITE_PATH = 'WFRTE';

type Answer =
  | { ok: false; conflict: number; owner: string; not_found?: undefined }
  | { ok: false; not_found: true }
  | {
      ok: true;
      revision: number;
      services: string[];
      changes: [service: string, instanceId: string, kind: 'u' | 'd' | 'h'][];
      /** set_health: the instance before the change. */
      row?: InstanceRow;
    };

/** The writes as the function reads them (see the comment of migration 7). */
export function wireWrites(writes: readonly FunctionWrite[]): string {
  return JSON.stringify(
    writes.map((w) =>
      w.op === 'setHealth'
        ? { op: 'set_health', agent_id: w.agentId, instance_id: w.instanceId, health: w.health }
        : {
            agent: {
              agent_id: w.agent.agentId,
              hostname: w.agent.hostname,
              address: w.agent.address,
              inbound_port: w.agent.inboundPort,
              zone: w.agent.zone,
              version: w.agent.version,
            },
            has_lease: w.lease !== undefined,
            lease: w.lease ?? null,
            replace_all: w.replaceAll,
            instances: w.instances.map((i) => instanceValues(w.agent.agentId, i)),
          },
    ),
  );
}

/**
 * `floor`: the highest revision this process reported (a write that changes
 * nothing reports at least it). `changeStatement`: the replica wiring's
 * notice (undefined: none is sent).
 */
export async function commitRegisterBatchInDatabase(
  client: pg.ClientBase,
  writes: readonly FunctionWrite[],
  floor: number,
  changeStatement: ChangeStatement | undefined,
): Promise<{ outcomes: WriteOutcome[]; revision: number } | null> {
  const notice = changeStatement?.({ kind: 'registry', revision: NOTICE_REVISION_PLACEHOLDER });
  let rows: { r: Answer }[];
  try {
    // Prepared (parsed and planned once per connection): it runs once per batch.
    const result = await client.query<{ r: Answer }>({
      name: 'weft_register_batch',
      text: 'SELECT r FROM weft_register_batch($1::json, $2, $3, $4) AS r',
      values: [wireWrites(writes), floor, notice?.values[0] ?? null, notice?.values[1] ?? null],
    });
    rows = result.rows;
  } catch (err) {
    if ((err as { code?: unknown }).code === NEEDS_PER_WRITE_PATH) return null;
    throw err;
  }
  if (rows.length !== writes.length) throw new Error(`weft_register_batch answered ${rows.length} outcomes for ${writes.length} writes`);
  let revision = floor;
  const outcomes = rows.map(({ r }, i): WriteOutcome => {
    const w = writes[i];
    if (!r.ok && w.op === 'setHealth') {
      return {
        ok: false,
        err: new NotFoundError(
          `instance_id: instance ${JSON.stringify(w.instanceId)} is not registered by agent ${JSON.stringify(w.agentId)}`,
        ),
      };
    }
    if (!r.ok && w.op === 'register' && !r.not_found) {
      return {
        ok: false,
        err: new ValidationError(
          `instances[${r.conflict}].instance_id`,
          `instance ${JSON.stringify(w.instances[r.conflict].instanceId)} is already registered by agent ${JSON.stringify(r.owner)}`,
        ),
      };
    }
    if (!r.ok) throw new Error(`weft_register_batch: an answer for write ${i} that does not fit it`);
    revision = Math.max(revision, r.revision);
    if (w.op === 'setHealth') {
      const changed = r.changes.length > 0 && r.row;
      return {
        ok: true,
        result: {
          revision: r.revision,
          changedServices: changed ? [r.row!.service] : [],
          instanceChanges: changed
            ? [{ service: r.row!.service, instanceId: w.instanceId, instance: { ...instanceFromRow(r.row!), health: w.health } }]
            : [],
          reloadServices: [],
          removed: undefined,
        },
      };
    }
    const specs = new Map(w.instances.map((s) => [s.instanceId, s]));
    const instanceChanges: ChangeResult['instanceChanges'] = r.changes.map(([service, instanceId, kind]) => ({
      service,
      instanceId,
      instance: kind === 'u' ? instanceOf(w.agent.agentId, specs.get(instanceId)!) : null,
    }));
    return {
      ok: true,
      result: { revision: r.revision, changedServices: [...r.services].sort(), instanceChanges, reloadServices: [], removed: undefined },
    };
  });
  return { outcomes, revision };
}
