/**
 * What only PostgreSQL has to prove: several processes on one schema
 * (migrations once, revisions from sequences), the database going away and
 * coming back, and the copy of a SQLite mesh. Real PostgreSQL, real gRPC;
 * skipped with the reason printed when no PostgreSQL answers.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import type { AgentInfo, InstanceSpec } from '@weft/shared';
import { silentLogger } from '@weft/shared';
import type { GetConfigResponse__Output } from '@weft/shared/generated/weft/v1/GetConfigResponse';
import type { ListServicesResponse__Output } from '@weft/shared/generated/weft/v1/ListServicesResponse';
import type { RegisterResponse__Output } from '@weft/shared/generated/weft/v1/RegisterResponse';
import { freshDatabase, freshSchema, postgresSkipReason } from '../../pg-test-support.js';
import { agentInfo, instance, instanceSpec, startHarness, TestStream, tempDir } from '../../test-support.js';
import { copySqliteToPostgres } from '../migrate-to-postgres.js';
import type { RegistryWrite } from '../store-contract.js';
import { openPostgresStore } from './pg-backend.js';
import { describeUrl } from './pg-database.js';
import { PG_MIGRATIONS } from './pg-migrations.js';

const skip = await postgresSkipReason();

const agent = (id: string): AgentInfo => ({
  agentId: id,
  hostname: `${id}.local`,
  address: '10.0.0.1',
  inboundPort: 15006,
  zone: '',
  version: '1',
});
const spec = (service: string, instanceId: string): InstanceSpec => instanceSpec(service, instanceId);

/** A valid document for ApplyConfig. */
const ACCESS = (service: string) => JSON.stringify({ apiVersion: 'weft.dev/v1', kind: 'AccessPolicy', metadata: { service }, rules: [] });

const ROUTES = (service: string, weight: number) =>
  JSON.stringify({
    kind: 'Routes',
    metadata: { service },
    spec: { rules: [{ name: 'all', match: { pathPrefix: '/' }, backends: [{ service, weight }] }] },
  });

describe('PostgreSQL store', { skip }, () => {
  test('two replicas started at once on an empty schema: the migrations run exactly once', async () => {
    const s = await freshSchema();
    try {
      const [a, b] = await Promise.all([openPostgresStore(s.url, silentLogger), openPostgresStore(s.url, silentLogger)]);
      await Promise.all([a.close(), b.close()]);
      assert.deepEqual(
        [...a.migrationsApplied, ...b.migrationsApplied],
        PG_MIGRATIONS.map((m) => m.version),
      );
      const rows = await s.sql<{ version: number }>(`SELECT version FROM ${s.schema}.schema_migrations ORDER BY version`);
      assert.deepEqual(
        rows.map((r) => r.version),
        PG_MIGRATIONS.map((m) => m.version),
      );
    } finally {
      await s.drop();
    }
  });

  test('two control planes started at once on one empty schema both serve it', async () => {
    const s = await freshSchema();
    try {
      const [h1, h2] = await Promise.all([startHarness({ store: s.url }), startHarness({ store: s.url })]);
      try {
        const r = await h1.call<RegisterResponse__Output>('Register', { agent: agentInfo('m1'), instances: [instance('shared', 's1')] });
        const r2 = await h2.call<RegisterResponse__Output>('Register', { agent: agentInfo('m2'), instances: [instance('shared', 's2')] });
        assert.ok(Number(r2.revision) > Number(r.revision));
        const rows = await s.sql(`SELECT version FROM ${s.schema}.schema_migrations`);
        assert.equal(rows.length, PG_MIGRATIONS.length);
      } finally {
        await Promise.all([h1.close(), h2.close()]);
      }
    } finally {
      await s.drop();
    }
  });

  test('revisions from two replicas writing at once are distinct, increasing per replica, and never reissued', async () => {
    const s = await freshSchema();
    const [a, b] = await Promise.all([openPostgresStore(s.url, silentLogger), openPostgresStore(s.url, silentLogger)]);
    try {
      const batch = (store: typeof a, who: string, n: number) =>
        store.registry.commitBatch(
          Array.from(
            { length: n },
            (_, i): RegistryWrite => ({ op: 'register', agent: agent(who), instances: [spec('svc', `${who}-${i}`)], replaceAll: false }),
          ),
        );
      const results = await Promise.all([batch(a, 'a', 20), batch(b, 'b', 20), batch(a, 'a2', 20), batch(b, 'b2', 20)]);
      const revisions = results.flat().map((o) => (o.ok ? o.result.revision : -1));
      assert.equal(new Set(revisions).size, 80);
      assert.ok(!revisions.includes(-1));
      for (const r of results) {
        const mine = r.map((o) => (o.ok ? o.result.revision : -1));
        assert.deepEqual(
          mine,
          [...mine].sort((x, y) => x - y),
        );
      }
      const max = Math.max(...revisions);
      assert.equal((await a.registry.load()).revision, max);
      assert.equal((await a.registry.load()).serviceVersions.get('svc'), max);
      // Policy: two replicas applying at once get different config revisions, each planned against the other's commit.
      const [p1, p2] = await Promise.all([
        a.policy.commit([{ service: 'x', kind: 'Routes', json: ROUTES('x', 1) }], 'from a'),
        b.policy.commit([{ service: 'x', kind: 'Routes', json: ROUTES('x', 2) }], 'from b'),
      ]);
      assert.deepEqual([p1.revision, p2.revision].sort(), [1, 2]);
      const second = p1.revision === 2 ? p1 : p2;
      assert.equal(second.changes[0].action, 'update');
    } finally {
      await Promise.all([a.close(), b.close()]);
      await s.drop();
    }
  });

  test('PostgreSQL unavailable: streams stay served, writes are refused with UNAVAILABLE naming the database, then resume without a restart', async () => {
    const db = await freshDatabase();
    const h = await startHarness({ store: db.url });
    const watcher = new TestStream(h.discovery).send({ agent: agentInfo('outage-watcher'), subscribe: ['endpoints/orders'] });
    try {
      watcher.ack((await watcher.next()).nonce); // not_found
      const acked = await h.call<RegisterResponse__Output>('Register', {
        agent: agentInfo('owner'),
        instances: [instance('orders', 'o1')],
      });
      const added = await watcher.next();
      watcher.ack(added.nonce);

      await db.allowConnections(false);
      const refused = await h.call('Register', { agent: agentInfo('owner'), instances: [instance('orders', 'o2')] }).then(
        () => undefined,
        (err: grpc.ServiceError) => err,
      );
      assert.equal(refused?.code, 14, refused?.details); // UNAVAILABLE
      assert.match(refused?.details ?? '', new RegExp(`PostgreSQL ${escapeRegExp(describeUrl(db.url))} is unavailable`));
      assert.equal(refused?.metadata.get('x-weft-error')[0], 'store_unavailable');
      const policyRefused = await h.call('ApplyConfig', { documents: [{ source: 'r.json', json: ACCESS('orders') }] }).then(
        () => undefined,
        (err: grpc.ServiceError) => err,
      );
      assert.equal(policyRefused?.code, 14);
      // Reads and streams are served from memory meanwhile.
      const during = await h.call<ListServicesResponse__Output>('ListServices', {});
      assert.deepEqual(
        during.services.map((svc) => svc.name),
        ['orders'],
      );
      assert.equal(watcher.status, undefined);
      // An agent (re)connecting meanwhile is served from memory too.
      const late = new TestStream(h.discovery).send({ agent: agentInfo('late-agent'), subscribe: ['endpoints/orders'] });
      try {
        const first = await late.next();
        assert.deepEqual(
          first.resources[0].endpoints?.endpoints.map((e) => e.instance_id),
          ['o1'],
        );
        assert.equal(late.status, undefined);
      } finally {
        late.close();
      }

      await db.allowConnections(true);
      const resumed = await h.call<RegisterResponse__Output>('Register', {
        agent: agentInfo('owner'),
        instances: [instance('orders', 'o2')],
      });
      assert.ok(Number(resumed.revision) > Number(acked.revision));
      const update = await watcher.next();
      assert.deepEqual(
        update.resources[0].endpoints?.endpoints.map((e) => e.instance_id),
        ['o1', 'o2'],
      );
      await h.call('ApplyConfig', { documents: [{ source: 'r.json', json: ACCESS('orders') }] });
      const config = await h.call<GetConfigResponse__Output>('GetConfig', {});
      assert.equal(config.documents.length, 1);
    } finally {
      watcher.close();
      await h.close();
      await db.drop();
    }
  });

  test('pg_terminate_backend on the control plane’s connections loses nothing acknowledged and needs no restart', async () => {
    const db = await freshDatabase();
    const h = await startHarness({ store: db.url });
    try {
      const ids: string[] = [];
      for (let round = 0; round < 3; round++) {
        const batch = Array.from({ length: 10 }, (_, i) => `r${round}-${i}`);
        const results = await Promise.allSettled(
          batch.map((id) => h.call('Register', { agent: agentInfo('churn'), instances: [instance('churn', id)] })),
        );
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') ids.push(batch[i]);
          else assert.equal((r.reason as grpc.ServiceError).code, 14);
        });
        // Every connection of the control plane goes, as a failover or restart of PostgreSQL would do.
        await db.allowConnections(false);
        await db.allowConnections(true);
      }
      const after = await h.call<RegisterResponse__Output>('Register', {
        agent: agentInfo('churn'),
        instances: [instance('churn', 'last')],
      });
      assert.ok(Number(after.revision) > 0);
      ids.push('last');
      const check = await openPostgresStore(db.url, silentLogger);
      try {
        const stored = new Set((await check.registry.load()).instances.map((i) => i.instanceId));
        for (const id of ids) assert.ok(stored.has(id), `acknowledged registration ${id} is in PostgreSQL`);
      } finally {
        await check.close();
      }
    } finally {
      await h.close();
      await db.drop();
    }
  });

  test('migrate --to copies a SQLite mesh into PostgreSQL: same services, versions and config; revisions continue', async () => {
    const dir = tempDir();
    const s = await freshSchema();
    try {
      const sqlite = await startHarness({ dataDir: dir.path });
      await sqlite.call('Register', { agent: agentInfo('m'), instances: [instance('orders', 'o1'), instance('users', 'u1')] });
      await sqlite.call('ApplyConfig', { documents: [{ source: 'r.json', json: ACCESS('orders') }] });
      const services = await sqlite.call<ListServicesResponse__Output>('ListServices', {});
      const config = await sqlite.call<GetConfigResponse__Output>('GetConfig', {});
      await sqlite.close(true);

      const summary = await copySqliteToPostgres(join(dir.path, 'control-plane.db'), s.url, silentLogger);
      assert.equal(summary.rows.instances, 2);
      assert.equal(summary.rows.policy, 1);
      await assert.rejects(copySqliteToPostgres(join(dir.path, 'control-plane.db'), s.url, silentLogger), /already holds a mesh/);

      const pgDir = tempDir();
      const onPg = await startHarness({ dataDir: pgDir.path, store: s.url });
      try {
        assert.deepEqual(await onPg.call('ListServices', {}), services);
        assert.deepEqual(await onPg.call('GetConfig', {}), config);
        const next = await onPg.call<RegisterResponse__Output>('Register', {
          agent: agentInfo('m'),
          instances: [instance('orders', 'o2')],
        });
        assert.equal(Number(next.revision), Number(services.revision) + 1);
      } finally {
        await onPg.close();
        pgDir.remove();
      }
    } finally {
      dir.remove();
      await s.drop();
    }
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
