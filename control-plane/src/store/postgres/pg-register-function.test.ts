/**
 * weft_register_batch (schema migrations 7 and 9, pg-register-function.ts): a batch
 * of registrations and health changes made in one statement inside PostgreSQL must give exactly
 * what the SQLite store (the reference) gives for the same batches: the same
 * outcome per write (conflicts fail that write alone), the same revisions,
 * changed services, instance changes and final rows. And it must send the
 * change notice with the committed revision. Real PostgreSQL, fresh schemas.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { AgentInfo, Health, InstanceSpec } from '@weft/shared';
import { silentLogger } from '@weft/shared';
import pg from 'pg';
import { decodeNotice, encodeNotice } from '../../cluster/change-notice.js';
import { freshSchema, postgresSkipReason } from '../../pg-test-support.js';
import { instanceSpec, tempDir } from '../../test-support.js';
import { openSqliteStore } from '../sqlite-backend.js';
import type { ControlPlaneStore, RegistryWrite, WriteOutcome } from '../store-contract.js';
import { openPostgresStore, type PostgresStore } from './pg-backend.js';
import { commitRegisterBatchInDatabase, wireWrites } from './pg-register-function.js';

const skip = await postgresSkipReason();

const agent = (id: string, extra: Partial<AgentInfo> = {}): AgentInfo => ({
  agentId: id,
  hostname: `${id}.local`,
  address: '10.0.0.1',
  inboundPort: 15006,
  zone: 'z1',
  version: '1',
  ...extra,
});
const spec = (service: string, instanceId: string, extra: Partial<InstanceSpec> = {}): InstanceSpec =>
  instanceSpec(service, instanceId, { tags: ['t'], metadata: { k: 'v' }, health: 'passing', ...extra });
const reg = (a: AgentInfo, instances: InstanceSpec[], replaceAll = false, lease?: number | null): RegistryWrite => ({
  op: 'register',
  agent: a,
  instances,
  replaceAll,
  lease,
});

const health = (agentId: string, instanceId: string, h: Health): RegistryWrite => ({ op: 'setHealth', agentId, instanceId, health: h });

/** Batches covering every branch of the function: new agents, no-ops, conflicts, moves between services, replaceAll, leases. */
const BATCHES: RegistryWrite[][] = [
  [reg(agent('a'), [spec('web', 'w1'), spec('web', 'w2')], false, 1000), reg(agent('b'), [spec('api', 'p1')])],
  // Same content again (no change), a conflict (w1 is a's), and a lease-only change.
  [
    reg(agent('a'), [spec('web', 'w1')]),
    reg(agent('b'), [spec('api', 'p2'), spec('web', 'w1')]),
    reg(agent('a'), [], false, 2000),
    reg(agent('b'), [spec('api', 'p2')]),
  ],
  // A moves w2 to another service, changes health of w1, and a hostname change of b; then a no-op after changes.
  [
    reg(agent('a'), [spec('web', 'w1', { health: 'critical' }), spec('admin', 'w2')]),
    reg(agent('b', { hostname: 'b2.local' }), []),
    reg(agent('a'), [spec('admin', 'w2')]),
  ],
  // replaceAll keeps only w3 (w1 and w2 are removed); an agent registered twice in one batch; lease set to null.
  [
    reg(agent('a'), [spec('web', 'w3')], true, null),
    reg(agent('c'), [spec('web', 'c1')]),
    reg(agent('c'), [spec('web', 'c1', { weight: 5 }), spec('db', 'c2')], true),
    reg(agent('b'), [spec('web', 'w3')]),
  ],
  // Only conflicts and no-ops: nothing changes.
  [reg(agent('b'), [spec('web', 'c1')]), reg(agent('c'), [spec('db', 'c2')])],
  // Health changes mixed with registrations: a change, the same health again (no change), another agent's instance
  // and an unknown one (both fail alone), then an instance registered and its health changed in the same batch.
  [
    health('a', 'w3', 'critical'),
    health('a', 'w3', 'critical'),
    health('b', 'w3', 'passing'),
    health('a', 'nope', 'passing'),
    reg(agent('c'), [spec('db', 'c3')]),
    health('c', 'c3', 'warning'),
  ],
  // An agent whose address changes: the per-write path (its services are read back).
  [reg(agent('c', { address: '10.0.0.9' }), [spec('db', 'c2')]), reg(agent('a'), [spec('web', 'w4')])],
];

/**
 * Batches of independent registrations (weft_register_independent: known agents, unchanged; no instance id twice;
 * no replaceAll, no health change), after a first batch that is not (new agents). Conflicts, no-ops, lease-only
 * writes, an agent twice in one batch, instances moving between services, content changes.
 */
const INDEPENDENT: RegistryWrite[][] = [
  [
    reg(agent('a'), [spec('web', 'w1'), spec('web', 'w2')], false, 1000),
    reg(agent('b'), [spec('api', 'p1')]),
    reg(agent('c'), [spec('db', 'c1')]),
  ],
  [
    reg(agent('a'), [spec('web', 'w1')]),
    reg(agent('b'), [spec('api', 'p3'), spec('web', 'w2')]),
    reg(agent('a'), [], false, 2000),
    reg(agent('b'), [spec('api', 'p2')], false, 1500),
    reg(agent('c'), [spec('db', 'c2'), spec('admin', 'c1')]),
  ],
  [
    reg(agent('a'), [spec('web', 'w1', { health: 'critical' })], false, 3000),
    reg(agent('b'), [spec('api', 'p2', { weight: 5, tags: ['x', 'y'] })], false, 3000),
    reg(agent('c'), [spec('admin', 'c1')]),
    reg(agent('a'), [spec('db', 'w2')], false, 4000),
  ],
  [reg(agent('c'), [spec('admin', 'c2')]), reg(agent('b'), [spec('web', 'c1')])],
];

/**
 * An outcome comparable across backends: the error reduced to its class and message, no undefined fields, and
 * reloadServices (a set; the per-write path lists it in the database's order) sorted.
 */
function comparable(o: WriteOutcome) {
  if (!o.ok) return { ok: false, err: `${o.err?.constructor?.name}: ${(o.err as Error).message}` };
  return { ok: true, result: JSON.parse(JSON.stringify({ ...o.result, reloadServices: [...o.result.reloadServices].sort() })) };
}

/** service_versions.instance_count (schema migration 9) against the rows: [service, count] of both, by service. */
async function instanceCounts(client: pg.ClientBase) {
  const kept = await client.query<{ service: string; n: string }>(
    'SELECT service, instance_count AS n FROM service_versions ORDER BY service',
  );
  const counted = await client.query<{ service: string; n: string }>(
    'SELECT service, count(*) AS n FROM instances GROUP BY service ORDER BY service',
  );
  return { kept: kept.rows.map((r) => [r.service, Number(r.n)]), counted: counted.rows.map((r) => [r.service, Number(r.n)]) };
}

async function snapshot(store: ControlPlaneStore) {
  const s = await store.registry.load();
  return { revision: s.revision, agents: s.agents, instances: s.instances, versions: [...s.serviceVersions].sort() };
}

/** The reference SQLite store and a PostgreSQL store on a fresh schema (with one of its connections), closed after `run`. */
async function withBothStores(
  run: (stores: { sqlite: ControlPlaneStore; postgres: PostgresStore; client: pg.PoolClient }) => Promise<void>,
): Promise<void> {
  const dir = tempDir();
  const s = await freshSchema();
  const sqlite = openSqliteStore(join(dir.path, 'cp.db'));
  const postgres = await openPostgresStore(s.url, silentLogger);
  const client = await postgres.db.connect();
  try {
    await run({ sqlite, postgres, client });
  } finally {
    client.release();
    await postgres.close();
    sqlite.close();
    await s.drop();
    dir.remove();
  }
}

describe('weft_register_batch (PostgreSQL)', { skip }, () => {
  test('gives the same outcomes, revisions and rows as the SQLite store, batch after batch', async () => {
    await withBothStores(async ({ sqlite, postgres, client }) => {
      for (const [i, batch] of BATCHES.entries()) {
        const want = (await sqlite.registry.commitBatch(batch)).map(comparable);
        // The function itself (the store would fall back to its other paths if the function failed).
        const made = await commitRegisterBatchInDatabase(client, batch as never, 0, undefined);
        // Only the last batch (an agent that moved) is declined, and then the store makes it on the per-write path.
        assert.equal(made === null, i === BATCHES.length - 1, `batch ${i} declined`);
        const got = (made?.outcomes ?? (await postgres.registry.commitBatch(batch))).map(comparable);
        assert.deepEqual(got, want, `batch ${i}`);
        assert.deepEqual(await snapshot(postgres), await snapshot(sqlite), `rows after batch ${i}`);
        const counts = await instanceCounts(client);
        assert.deepEqual(counts.kept, counts.counted, `service_versions.instance_count after batch ${i}`);
      }
    });
  });

  test('an independent batch is decided as a whole with the outcomes, revisions and rows of the SQLite store', async () => {
    await withBothStores(async ({ sqlite, postgres, client }) => {
      for (const [i, batch] of INDEPENDENT.entries()) {
        // The path: only the first batch (new agents) is decided write by write.
        const [{ independent }] = (
          await client.query<{ independent: boolean }>('SELECT weft_registrations_independent($1::jsonb) AS independent', [
            wireWrites(batch as never),
          ])
        ).rows;
        assert.equal(independent, i > 0, `batch ${i} independent`);
        const want = (await sqlite.registry.commitBatch(batch)).map(comparable);
        const made = await commitRegisterBatchInDatabase(client, batch as never, 0, undefined);
        assert.ok(made, `batch ${i} made by the function`);
        assert.deepEqual(made.outcomes.map(comparable), want, `batch ${i}`);
        assert.deepEqual(await snapshot(postgres), await snapshot(sqlite), `rows after batch ${i}`);
        const counts = await instanceCounts(client);
        assert.deepEqual(counts.kept, counts.counted, `service_versions.instance_count after batch ${i}`);
        const leases = await client.query<{ agent_id: string; l: string | null }>(
          'SELECT agent_id, lease_expires_at_ms AS l FROM agents ORDER BY agent_id',
        );
        const sqliteLeases = (await sqlite.registry.load()).agents.map((a) => [a.agentId, a.leaseExpiresAtMs ?? null]);
        assert.deepEqual(
          leases.rows.map((r) => [r.agent_id, r.l === null ? null : Number(r.l)]),
          sqliteLeases,
          `leases after batch ${i}`,
        );
      }
    });
  });

  test('every write path keeps service_versions.instance_count equal to the rows, as the catch-up read reports it', async () => {
    const s = await freshSchema();
    const store = await openPostgresStore(s.url, silentLogger);
    const client = await store.db.connect();
    try {
      const writes: RegistryWrite[][] = [
        ...BATCHES,
        // The per-write path: removals by id and of a whole agent, mixed with registrations.
        [{ op: 'deregister', agentId: 'c', instanceIds: ['c3'] }, reg(agent('d'), [spec('web', 'd1'), spec('db', 'd2')])],
        [{ op: 'removeAgent', agentId: 'a' }, reg(agent('d'), [spec('api', 'd1')])],
        // Back on the function: a service emptied and then created again in one batch.
        [reg(agent('d'), [spec('db', 'd2')], true), reg(agent('e'), [spec('api', 'e1')])],
      ];
      for (const [i, batch] of writes.entries()) {
        await store.registry.commitBatch(batch);
        const counts = await instanceCounts(client);
        assert.deepEqual(counts.kept, counts.counted, `after batch ${i}`);
        // The catch-up read of a held service reports the kept count; an emptied one counts 0 and has no version.
        const services = ['web', 'api', 'db', 'admin'];
        const read = await store.registry.agentsAndInstances([], services, new Map(services.map((x) => [x, 0])));
        const want = new Map(counts.counted as [string, number][]);
        for (const x of services) {
          assert.equal(read.counts?.get(x), want.get(x) ?? 0, `count of ${x} after batch ${i}`);
          assert.equal(read.versions.has(x), want.has(x), `version of ${x} after batch ${i}`);
          assert.equal(read.instances.get(x)?.length ?? 0, want.get(x) ?? 0, `rows of ${x} after batch ${i}`);
        }
      }
    } finally {
      client.release();
      await store.close();
      await s.drop();
    }
  });

  test('commits in one statement, sends the notice with the committed revision, and declines an agent that moved', async () => {
    const s = await freshSchema();
    const store = await openPostgresStore(s.url, silentLogger);
    const listener = new pg.Client({ connectionString: s.url });
    const client = await store.db.connect();
    try {
      await listener.connect();
      const payloads: string[] = [];
      listener.on('notification', (m) => payloads.push(m.payload ?? ''));
      await listener.query('LISTEN weft_test_changes');
      const statement = (change: Parameters<typeof encodeNotice>[1]) => ({
        text: 'SELECT pg_notify($1, $2)',
        values: ['weft_test_changes', encodeNotice('replica-1', change)] as [string, string],
      });

      const first = await commitRegisterBatchInDatabase(client, BATCHES[0] as never, 0, statement);
      assert.ok(first, 'the batch was made by the function, not declined');
      assert.equal(first.revision, 2);
      assert.deepEqual(
        first.outcomes.map((o) => o.ok && o.result.revision),
        [1, 2],
      );
      const [{ v }] = (await client.query<{ v: number }>('SELECT last_value AS v FROM registry_revision')).rows;
      assert.equal(v, 2);

      // A known agent's new instance and lease: the notice names the service, not the agent (its row is as it was).
      const known = await commitRegisterBatchInDatabase(client, [reg(agent('a'), [spec('web', 'w9')], false, 5000)] as never, 0, statement);
      assert.equal(known?.revision, 3);

      // Many services: the names do not fit in a notice, so it is sent in its reload form.
      const many = Array.from({ length: 400 }, (_, i) => spec(`service-with-a-long-name-${i}`, `m${i}`));
      const second = await commitRegisterBatchInDatabase(client, [reg(agent('m'), many)] as never, 0, statement);
      assert.equal(second?.revision, 4);

      const moved = await commitRegisterBatchInDatabase(client, [reg(agent('a', { zone: 'z9' }), [])] as never, 0, statement);
      assert.equal(moved, null);

      const deadline = Date.now() + 5000;
      while (payloads.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Names in any order (a set).
      const sorted = (n: ReturnType<typeof decodeNotice>) =>
        'form' in n && n.form === 'change' ? { ...n, services: n.services.sort(), agents: n.agents.sort() } : n;
      assert.deepEqual(
        payloads.map((p) => sorted(decodeNotice(p))),
        [
          { form: 'change', replica: 'replica-1', kind: 'registry', revision: 2, services: ['api', 'web'], agents: ['a', 'b'] },
          { form: 'change', replica: 'replica-1', kind: 'registry', revision: 3, services: ['web'], agents: [] },
          { form: 'reload', replica: 'replica-1', kind: 'registry', revision: 4, reloadAfter: 3 },
        ],
      );
      assert.ok(payloads.every((p) => Buffer.byteLength(p) < 8000));
    } finally {
      client.release();
      await listener.end();
      await store.close();
      await s.drop();
    }
  });
});
