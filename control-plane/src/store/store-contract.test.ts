/**
 * The store contract (store-contract.ts), one suite run against both
 * backends: SQLite in a temp file, PostgreSQL in a fresh schema (skipped,
 * with the reason printed, when no PostgreSQL answers; see pg-test-support.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { AgentInfo, InstanceSpec } from '@weft/shared';
import { NotFoundError, silentLogger, ValidationError } from '@weft/shared';
import { freshSchema, postgresSkipReason } from '../pg-test-support.js';
import { instanceSpec, tempDir } from '../test-support.js';
import { openPostgresStore } from './postgres/pg-backend.js';
import { openSqliteStore } from './sqlite-backend.js';
import type { ChangeResult, ControlPlaneStore, RegistryWrite, WriteOutcome } from './store-contract.js';

const agentA: AgentInfo = { agentId: 'a', hostname: 'a.local', address: '10.0.0.1', inboundPort: 15006, zone: 'z1', version: '1' };
const agentB: AgentInfo = { ...agentA, agentId: 'b', address: '10.0.0.2' };

function spec(service: string, instanceId: string, extra: Partial<InstanceSpec> = {}): InstanceSpec {
  return instanceSpec(service, instanceId, { tags: ['t1'], metadata: { k: 'v' }, ...extra });
}

/** A backend under test: `open` may be called again after `close` and must find the same data. */
interface Backend {
  open(): Promise<ControlPlaneStore>;
  cleanup(): Promise<void>;
}

const pgSkip = await postgresSkipReason();

const BACKENDS: { name: string; skip: string | false; make(): Promise<Backend> }[] = [
  {
    name: 'sqlite',
    skip: false,
    make: async () => {
      const dir = tempDir();
      return { open: async () => openSqliteStore(join(dir.path, 'cp.db')), cleanup: async () => dir.remove() };
    },
  },
  {
    name: 'postgres',
    skip: pgSkip,
    make: async () => {
      const s = await freshSchema();
      return { open: () => openPostgresStore(s.url, silentLogger), cleanup: () => s.drop() };
    },
  },
];

/** Runs `fn` on a fresh store of the backend; closes and removes everything after. */
async function withStore(b: (typeof BACKENDS)[number], fn: (store: ControlPlaneStore, backend: Backend) => Promise<void>) {
  const backend = await b.make();
  const store = await backend.open();
  try {
    await fn(store, backend);
  } finally {
    await store.close();
    await backend.cleanup();
  }
}

async function one(store: ControlPlaneStore, w: RegistryWrite): Promise<ChangeResult> {
  const [o] = await store.registry.commitBatch([w]);
  if (!o.ok) throw o.err;
  return o.result;
}

const reg = (agent: AgentInfo, instances: InstanceSpec[], replaceAll = false): RegistryWrite => ({
  op: 'register',
  agent,
  instances,
  replaceAll,
});

for (const b of BACKENDS) {
  describe(`store contract on ${b.name}`, { skip: b.skip }, () => {
    test('a change takes the next revision; a change that alters nothing keeps it', async () => {
      await withStore(b, async (store) => {
        const r1 = await one(store, reg(agentA, [spec('orders', 'o1')]));
        assert.equal(r1.revision, 1);
        assert.deepEqual(r1.changedServices, ['orders']);
        assert.equal(r1.instanceChanges[0].instance?.agentId, 'a');
        const same = await one(store, reg(agentA, [spec('orders', 'o1')]));
        assert.equal(same.revision, 1);
        assert.deepEqual(same.changedServices, []);
        const r2 = await one(store, { op: 'setHealth', agentId: 'a', instanceId: 'o1', health: 'passing' });
        assert.equal(r2.revision, 2);
        assert.equal(store.registry.revision(), 2);
        const snap = await store.registry.load();
        assert.equal(snap.revision, 2);
        assert.deepEqual(
          snap.instances.map((i) => [i.instanceId, i.health, i.tags, i.metadata]),
          [['o1', 'passing', ['t1'], { k: 'v' }]],
        );
        assert.deepEqual([...snap.serviceVersions], [['orders', 2]]);
        assert.equal(snap.agents[0].agentId, 'a');
      });
    });

    test('one batch is one transaction; a failing write is rolled back alone and names the field', async () => {
      await withStore(b, async (store) => {
        await one(store, reg(agentA, [spec('orders', 'o1')]));
        const outcomes: WriteOutcome[] = await store.registry.commitBatch([
          reg(agentA, [spec('orders', 'o2')]),
          // Writes o3, then fails on o1 (owned by a): o3 must not survive.
          reg(agentB, [spec('orders', 'o3'), spec('orders', 'o1')]),
          { op: 'deregister', agentId: 'b', instanceIds: ['o1'] },
          { op: 'setHealth', agentId: 'a', instanceId: 'o2', health: 'critical' },
        ]);
        assert.deepEqual(
          outcomes.map((o) => o.ok),
          [true, false, false, true],
        );
        const conflict = outcomes[1] as { err: unknown };
        assert.ok(conflict.err instanceof ValidationError);
        assert.match(String(conflict.err), /instances\[1\]\.instance_id: instance "o1" is already registered by agent "a"/);
        assert.ok((outcomes[2] as { err: unknown }).err instanceof NotFoundError);
        const snap = await store.registry.load();
        assert.deepEqual(
          snap.instances.map((i) => [i.instanceId, i.health]),
          [
            ['o1', 'unknown'],
            ['o2', 'critical'],
          ],
        );
        assert.equal(await store.registry.agent('b'), undefined);
        assert.equal(snap.revision, 3);
      });
    });

    test('a batch of registrations: each write sees the ones before it; a failing write, even one the schema rejects, fails alone', async () => {
      await withStore(b, async (store) => {
        await one(store, reg(agentA, [spec('orders', 'o1'), spec('users', 'u1')]));
        const outcomes = await store.registry.commitBatch([
          reg(agentB, [spec('orders', 'o2')]),
          // o2 was registered by b earlier in this batch.
          reg(agentA, [spec('orders', 'o2')]),
          reg(agentA, [spec('orders', 'o1'), spec('carts', 'c1')], true),
          reg(agentA, [spec('orders', 'o1'), spec('carts', 'c1')], true),
          // Quotes, a backslash and non-ASCII text come back as written.
          reg(agentB, [spec('orders', 'o2', { health: 'passing', metadata: { q: `it's \\ "x" ü $1` } })]),
        ]);
        assert.deepEqual(
          outcomes.map((o) => (o.ok ? [o.result.revision, o.result.changedServices] : 'failed')),
          [[2, ['orders']], 'failed', [3, ['carts', 'users']], [3, []], [4, ['orders']]],
        );
        assert.match(
          String((outcomes[1] as { err: unknown }).err),
          /instances\[0\]\.instance_id: instance "o2" is already registered by agent "b"/,
        );
        let snap = await store.registry.load();
        assert.equal(snap.revision, 4);
        assert.deepEqual(
          snap.instances.map((i) => [i.instanceId, i.agentId, i.health]),
          [
            ['c1', 'a', 'unknown'],
            ['o1', 'a', 'unknown'],
            ['o2', 'b', 'passing'],
          ],
        );
        assert.deepEqual(snap.instances.find((i) => i.instanceId === 'o2')?.metadata, { q: `it's \\ "x" ü $1` });
        assert.deepEqual([...snap.serviceVersions].sort(), [
          ['carts', 3],
          ['orders', 4],
        ]);
        // A port the schema's CHECK rejects: that write fails, the other commits.
        const checked = await store.registry.commitBatch([
          reg(agentB, [spec('users', 'u2')]),
          reg(agentA, [spec('orders', 'o9', { port: 70000 })]),
        ]);
        assert.deepEqual(
          checked.map((o) => o.ok),
          [true, false],
        );
        // An agent that moves inside a batch of registrations: its services are reloaded as committed.
        const [moved, other] = await store.registry.commitBatch([
          reg({ ...agentA, address: '10.9.9.9' }, [spec('orders', 'o1'), spec('carts', 'c1')]),
          // Quotes, a backslash and non-ASCII text come back as written.
          reg(agentB, [spec('users', 'u3', { metadata: { q: `it's \\ "x" ü $1` } })]),
        ]);
        assert.ok(moved.ok && other.ok);
        assert.deepEqual(moved.result.reloadServices.sort(), ['carts', 'orders']);
        assert.equal(other.result.revision, moved.result.revision + 1);
        snap = await store.registry.load();
        assert.deepEqual(
          snap.instances.map((i) => i.instanceId),
          ['c1', 'o1', 'o2', 'u2', 'u3'],
        );
        assert.deepEqual(snap.instances.find((i) => i.instanceId === 'u3')?.metadata, { q: `it's \\ "x" ü $1` });
        // Not a fixed number: on PostgreSQL the write the schema rejected may have used up a revision (a gap, never a repeat).
        assert.equal(snap.revision, other.result.revision);
      });
    });

    test('replaceAll removes the agent’s other instances; removeAgent removes all of them and the agent', async () => {
      await withStore(b, async (store) => {
        await one(store, reg(agentA, [spec('orders', 'o1'), spec('users', 'u1')]));
        const r = await one(store, reg(agentA, [spec('orders', 'o1')], true));
        assert.deepEqual(r.changedServices, ['users']);
        assert.deepEqual(r.instanceChanges, [{ service: 'users', instanceId: 'u1', instance: null }]);
        assert.deepEqual([...(await store.registry.load()).serviceVersions.keys()], ['orders']);
        const gone = await one(store, { op: 'removeAgent', agentId: 'a' });
        assert.equal(gone.removed, 1);
        const snap = await store.registry.load();
        assert.deepEqual(snap.instances, []);
        assert.deepEqual(snap.agents, []);
        assert.equal(snap.serviceVersions.size, 0);
        const nothing = await one(store, { op: 'removeAgent', agentId: 'a' });
        assert.equal(nothing.revision, gone.revision);
      });
    });

    test('an agent that moves changes every service it serves, read back as committed', async () => {
      await withStore(b, async (store) => {
        await one(store, reg(agentA, [spec('orders', 'o1'), spec('users', 'u1')]));
        const moved = await one(store, { op: 'upsertAgent', agent: { ...agentA, address: '10.9.9.9' } });
        assert.deepEqual(moved.changedServices, ['orders', 'users']);
        assert.deepEqual(moved.reloadServices.sort(), ['orders', 'users']);
        assert.deepEqual(
          moved.reloaded?.orders.map((i) => i.instanceId),
          ['o1'],
        );
        assert.equal((await store.registry.agent('a'))?.address, '10.9.9.9');
      });
    });

    test('lease bookkeeping is written without a new revision', async () => {
      await withStore(b, async (store) => {
        await one(store, { op: 'upsertAgent', agent: agentA, lease: 5000 });
        assert.equal((await store.registry.agent('a'))?.leaseExpiresAtMs, 5000);
        const r = await one(store, { op: 'setLease', agentId: 'a', leaseExpiresAtMs: 9000 });
        assert.equal(r.revision, 1);
        assert.deepEqual(r.changedServices, []);
        assert.equal((await store.registry.agent('a'))?.leaseExpiresAtMs, 9000);
      });
    });

    test('revisions and contents survive closing and reopening the store', async () => {
      await withStore(b, async (store, backend) => {
        await one(store, reg(agentA, [spec('orders', 'o1')]));
        await store.policy.commit([{ service: 'orders', kind: 'Routes', json: '{"a":1}' }], 'first');
        await store.close();
        const again = await backend.open();
        try {
          const snap = await again.registry.load();
          assert.equal(snap.revision, 1);
          assert.equal(await again.policy.refreshRevision(), 1);
          // Never reissued: the next change takes 2.
          assert.equal((await one(again, reg(agentA, [spec('orders', 'o2')]))).revision, 2);
          assert.equal((await again.policy.commit([{ service: 'orders', kind: 'Routes', json: '{"a":2}' }], 'second')).revision, 2);
        } finally {
          await again.close();
        }
      });
    });

    test('policy: commit, plan, history, rollback state; an unchanged commit keeps the revision', async () => {
      await withStore(b, async (store) => {
        const p = store.policy;
        const c1 = await p.commit(
          [
            { service: 'orders', kind: 'Routes', json: '{"r":1}' },
            { service: 'users', kind: 'ServicePolicy', json: '{"p":1}' },
          ],
          'apply 1',
        );
        assert.equal(c1.revision, 1);
        assert.deepEqual(
          c1.changes.map((c) => c.action),
          ['create', 'create'],
        );
        const same = await p.commit([{ service: 'orders', kind: 'Routes', json: '{"r":1}' }], 'noop');
        assert.equal(same.revision, 1);
        assert.equal(same.changes[0].action, 'unchanged');
        const c2 = await p.commit(
          [
            { service: 'orders', kind: 'Routes', json: '{"r":2}' },
            { service: 'users', kind: 'ServicePolicy', json: null },
          ],
          'apply 2',
        );
        assert.equal(c2.revision, 2);
        assert.deepEqual(
          (await p.plan([{ service: 'orders', kind: 'Routes', json: '{"r":3}' }])).map((c) => [c.action, c.beforeJson]),
          [['update', '{"r":2}']],
        );
        assert.deepEqual(
          (await p.list()).map((s) => [s.service, s.kind, s.json, s.revision]),
          [['orders', 'Routes', '{"r":2}', 2]],
        );
        const history = await p.history(undefined, 10);
        assert.deepEqual(
          history.map((h) => [h.revision, h.description, h.changes.map((c) => `${c.service}:${c.action}`)]),
          [
            [2, 'apply 2', ['orders:update', 'users:delete']],
            [1, 'apply 1', ['orders:create', 'users:create']],
          ],
        );
        assert.deepEqual(
          (await p.history('users', 1)).map((h) => h.revision),
          [2],
        );
        assert.equal(await p.hasRevision(1), true);
        assert.equal(await p.hasRevision(7), false);
        assert.deepEqual(await p.writesToRestore(1), [
          { service: 'orders', kind: 'Routes', json: '{"r":1}' },
          { service: 'users', kind: 'ServicePolicy', json: '{"p":1}' },
        ]);
      });
    });

    test('trust: tokens are used up atomically; revocation bumps the trust revision once', async () => {
      await withStore(b, async (store) => {
        const t = store.trust;
        const token = {
          tokenId: 'tok1',
          kind: 'join' as const,
          secretSha256: 'ab',
          createdAtMs: 1,
          expiresAtMs: 2_000_000_000_000,
          usesLeft: 2,
          agentId: null,
          description: 'd',
        };
        await t.insertToken(token);
        assert.deepEqual(await t.token('tok1'), token);
        assert.equal(await t.countTokens('join'), 1);
        assert.equal(await t.countTokens('operator'), 0);
        const uses = await Promise.all([t.useToken('tok1'), t.useToken('tok1'), t.useToken('tok1')]);
        assert.deepEqual(uses.sort(), [false, true, true]);
        assert.equal((await t.listTokens())[0].usesLeft, 0);
        // Revocation deletes a token, but never the last operator token valid now.
        const op = (id: string, expiresAtMs: number | null) => ({
          ...token,
          tokenId: id,
          kind: 'operator' as const,
          expiresAtMs,
          usesLeft: null,
        });
        await t.insertToken(op('op1', null));
        await t.insertToken(op('op-old', 5));
        assert.equal(await t.revokeToken('op1', 10), 'last-operator');
        assert.equal(await t.revokeToken('nope', 10), 'unknown');
        assert.deepEqual(await t.revokeToken('op-old', 10), op('op-old', 5));
        await t.insertToken(op('op2', null));
        // Two revocations at once of the last two: one wins, the other is refused (PostgreSQL: two transactions).
        const both = await Promise.all([t.revokeToken('op1', 10), t.revokeToken('op2', 10)]);
        assert.deepEqual(both.map((r) => (typeof r === 'string' ? r : 'revoked')).sort(), ['last-operator', 'revoked']);
        assert.equal(await t.countTokens('operator'), 1);
        const tok1 = await t.token('tok1');
        assert.deepEqual(await t.revokeToken('tok1', 10), tok1);
        assert.equal(await t.token('tok1'), undefined);
        await t.recordCertificate({ agentId: 'a', serial: 's1', issuedAtMs: 10, expiresAtMs: 1000 });
        await t.recordCertificate({ agentId: 'a', serial: 's2', issuedAtMs: 20, expiresAtMs: 3000 });
        assert.equal((await t.latestCertificate('a'))?.serial, 's2');
        assert.equal((await t.latestCertificates()).get('a')?.serial, 's2');
        assert.equal(await t.trustRevision(), 0);
        assert.deepEqual(await t.revokeAgent('a', 2000, 'lost'), { serials: ['s2'], newlyRevoked: true });
        assert.deepEqual(await t.revokeAgent('a', 2000, 'again'), { serials: ['s2'], newlyRevoked: false });
        assert.equal(await t.trustRevision(), 1);
        assert.deepEqual(await t.revokedSerials(2000), ['s2']);
        assert.deepEqual(
          (await t.revokedAgents()).map((r) => [r.agentId, r.reason]),
          [['a', 'lost']],
        );
      });
    });

    test('trust: recordCertificates takes each token use with its certificate, never more uses than left', async () => {
      await withStore(b, async (store) => {
        const t = store.trust;
        await t.insertToken({
          tokenId: 'tok3',
          kind: 'join',
          secretSha256: 'ab',
          createdAtMs: 1,
          expiresAtMs: 2_000_000_000_000,
          usesLeft: 3,
          agentId: null,
          description: 'd',
        });
        const cert = (n: number) => ({ agentId: `ag${n}`, serial: `s${n}`, issuedAtMs: 10, expiresAtMs: 1000 });
        // Two batches at once, 8 enrolments on a 3-use token, a renewal (no token) and a duplicate serial.
        const [first, second] = await Promise.all([
          t.recordCertificates([1, 2, 3, 4].map((n) => ({ cert: cert(n), useTokenId: 'tok3' }))),
          t.recordCertificates([
            ...[5, 6, 7, 8].map((n) => ({ cert: cert(n), useTokenId: 'tok3' })),
            { cert: cert(9) },
            { cert: { ...cert(9), agentId: 'other' } },
          ]),
        ]);
        const all = [...first, ...second.slice(0, 4)];
        assert.equal(all.filter((o) => o === 'recorded').length, 3);
        assert.equal(all.filter((o) => o === 'token-used-up').length, 5);
        assert.equal(second[4], 'recorded');
        assert.ok(typeof second[5] === 'object' && second[5].err instanceof Error, 'the duplicate serial fails alone');
        assert.equal((await t.token('tok3'))?.usesLeft, 0);
        const certs = await t.latestCertificates();
        // Exactly the recorded enrolments and the renewal hold certificate records; the used-up ones none.
        const recorded = [1, 2, 3, 4, 5, 6, 7, 8].filter((n) => all[n - 1] === 'recorded').map((n) => `ag${n}`);
        assert.deepEqual([...certs.keys()].sort(), [...recorded, 'ag9'].sort());
        assert.equal(certs.has('other'), false);
      });
    });
  });
}
