/**
 * Replicas on one PostgreSQL store each hold an in-memory view of every
 * service. A replica patches its view with its own commits; another
 * replica's commit reaches it as a notice that makes it read the service.
 * When the two interleave (replica B commits to a service after replica A
 * did, before B has read A's notice), B's patch is missing A's change: the
 * read must repair it, and under a version agents have not seen.
 * Real PostgreSQL (fresh schema); skipped with the reason printed when none answers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AgentInfo, InstanceSpec } from '@weft/shared';
import { silentLogger } from '@weft/shared';
import { freshSchema, postgresSkipReason } from '../pg-test-support.js';
import { ReplicaSync } from '../replica-sync.js';
import { openPostgresStore } from '../store/postgres/pg-backend.js';
import { instanceSpec } from '../test-support.js';
import { PolicyRegistry } from './policy-registry.js';
import { Registry } from './registry.js';

const skip = await postgresSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function agent(id: string): AgentInfo {
  return { agentId: id, hostname: id, address: '127.0.0.1', inboundPort: 15006, zone: '', version: '1' };
}

const instance = (id: string, port: number): InstanceSpec => instanceSpec('orders', id, { port, health: 'passing' });

const idsOf = (r: Registry) => (r.service('orders')?.endpoints ?? []).map((e) => e.instanceId);

/** Two registries as two replicas on one fresh schema; close() ends both and drops the schema. */
async function twoReplicas() {
  const s = await freshSchema();
  const [storeA, storeB] = await Promise.all([openPostgresStore(s.url, silentLogger), openPostgresStore(s.url, silentLogger)]);
  const opts = { leaseTtlMs: 60_000, restartGraceMs: 60_000, logger: silentLogger, sharedStore: {} };
  const a = new Registry(storeA.registry, opts);
  const b = new Registry(storeB.registry, opts);
  const close = async () => {
    await a.close();
    await b.close();
    await Promise.all([storeA.close(), storeB.close()]);
    await s.drop();
  };
  return { a, b, storeB, close };
}

describe('replica views on a shared store', { skip }, () => {
  test('a replica whose own commit overtook another replica’s change repairs its view when it reads, under a new version', async () => {
    const { a, b, close } = await twoReplicas();
    try {
      await Promise.all([a.start(), b.start()]);
      await a.agentConnected(agent('host-a'));
      await b.agentConnected(agent('host-b'));
      await a.register(agent('host-a'), [instance('o-1', 8001)], false);
      assert.deepEqual(await b.reloadServices(['orders'], ['host-a']), []);
      assert.deepEqual(idsOf(b), ['o-1']);

      // A commits o-2; before B reads A's notice, B commits o-3: B's patch lacks o-2.
      await a.register(agent('host-a'), [instance('o-2', 8002)], false);
      await b.register(agent('host-b'), [instance('o-3', 8003)], false);
      const patched = b.service('orders');
      assert.deepEqual(idsOf(b), ['o-1', 'o-3'], 'the situation the read must repair');

      // A's notice arrives late: B reads and must hold all three, under a version no agent was sent with two contents.
      assert.deepEqual(await b.reloadServices(['orders'], ['host-a']), []);
      assert.deepEqual(idsOf(b), ['o-1', 'o-2', 'o-3']);
      assert.notEqual(b.service('orders')?.version, patched?.version, 'the repaired entry needs a version of its own');
      assert.equal(b.service('orders')?.revision, patched?.revision);

      // A hears of B's commit: a newer revision, read whole.
      assert.deepEqual(await a.reloadServices(['orders'], ['host-b']), []);
      assert.deepEqual(idsOf(a), ['o-1', 'o-2', 'o-3']);

      // B's next commit patches a base known complete... but B cannot know no one else wrote: a read of the same
      // content only confirms it, keeping the version agents already hold.
      await b.register(agent('host-b'), [instance('o-4', 8004)], false);
      const mine = b.service('orders');
      assert.deepEqual(await b.reloadServices(['orders']), []);
      assert.equal(b.service('orders')?.version, mine?.version, 'same content: no new version, no push');
      assert.equal(b.service('orders')?.completeAt, mine?.revision);

      // The catch-up read after a reconnection finds nothing stale on either replica once both are whole.
      assert.deepEqual(await a.reloadServices(['orders'], ['host-b']), []);
      assert.deepEqual(await a.catchUp(), []);
      assert.deepEqual(await b.catchUp(), []);
      assert.deepEqual(idsOf(a), idsOf(b));
    } finally {
      await close();
    }
  });

  test('a catch-up read takes only what changed since the entry was complete, and still sees removals and health', async () => {
    const { a, b, storeB, close } = await twoReplicas();
    const contentOf = (r: Registry) => (r.service('orders')?.endpoints ?? []).map((e) => `${e.instanceId}:${e.port}:${e.health}`);
    try {
      await Promise.all([a.start(), b.start()]);
      await a.agentConnected(agent('host-a'));
      await a.register(
        agent('host-a'),
        [1, 2, 3, 4, 5].map((n) => instance(`o-${n}`, 8000 + n)),
        false,
      );
      assert.deepEqual(await b.reloadServices(['orders'], ['host-a']), []);
      const complete = b.service('orders')!.completeAt;

      // What a partial read returns: the rows written after what B holds, and the count of all.
      await a.register(agent('host-a'), [instance('o-6', 8006)], false);
      const read = await storeB.registry.agentsAndInstances([], ['orders'], new Map([['orders', complete]]));
      assert.deepEqual(
        read.instances.get('orders')?.map((i) => i.instanceId),
        ['o-6'],
      );
      assert.equal(read.counts?.get('orders'), 6);
      // Without `held` the service comes whole, as before.
      const whole = await storeB.registry.agentsAndInstances([], ['orders']);
      assert.equal(whole.instances.get('orders')?.length, 6);
      assert.equal(whole.counts?.has('orders') ?? false, false);

      // A health change, a removal and a new instance by A: B's partial read ends equal to A's view.
      await a.setHealth('host-a', 'o-2', 'critical');
      await a.deregister('host-a', ['o-4']);
      await a.register(agent('host-a'), [instance('o-7', 8007)], false);
      assert.deepEqual(await b.reloadServices(['orders']), []);
      assert.deepEqual(contentOf(b), contentOf(a));
      assert.deepEqual(contentOf(b), [
        'o-1:8001:passing',
        'o-2:8002:critical',
        'o-3:8003:passing',
        'o-5:8005:passing',
        'o-6:8006:passing',
        'o-7:8007:passing',
      ]);
      assert.deepEqual(await b.catchUp(), []);
      // B committed nothing itself, yet it shows the revision it caught up to (what /healthz says).
      assert.equal(b.revision(), a.revision());

      // Agent host-a moves (another address, re-registering o-7 only): B's held o-1..o-6 name the old address, so
      // the partial read is not used; B reads the service whole and every endpoint carries the new address.
      const movedTo = { ...agent('host-a'), address: '127.0.0.2' };
      await a.register(movedTo, [instance('o-7', 8007)], false);
      assert.deepEqual(await b.reloadServices(['orders'], ['host-a']), []);
      assert.deepEqual(
        (b.service('orders')?.endpoints ?? []).map((e) => `${e.instanceId}@${e.agentAddress}`),
        (a.service('orders')?.endpoints ?? []).map((e) => `${e.instanceId}@${e.agentAddress}`),
      );
      assert.ok((b.service('orders')?.endpoints ?? []).every((e) => e.agentAddress === '127.0.0.2'));
    } finally {
      await close();
    }
  });

  test('registrations through two replicas to one service at once: both views end equal to the store', async () => {
    const s = await freshSchema();
    const stores = await Promise.all([openPostgresStore(s.url, silentLogger), openPostgresStore(s.url, silentLogger)]);
    const opts = { leaseTtlMs: 60_000, restartGraceMs: 60_000, logger: silentLogger, sharedStore: {} };
    const registries = stores.map((st) => new Registry(st.registry, opts));
    const syncs = stores.map((store, i) => {
      const registry = registries[i];
      const policies = new PolicyRegistry(
        store.policy,
        { instanceTags: (n) => registry.service(n)?.endpoints.map((e) => e.tags) },
        silentLogger,
      );
      return { policies, sync: new ReplicaSync({ store, url: s.url, registry, policies, logger: silentLogger }) };
    });
    try {
      await Promise.all(registries.map((r) => r.start()));
      await Promise.all(syncs.map((x) => x.policies.start()));
      for (const x of syncs) x.sync.start();
      const hosts = [agent('host-a'), agent('host-b')];
      await Promise.all(registries.map((r, i) => r.agentConnected(hosts[i])));
      // 400 registrations, alternating replicas, 32 in flight: commits of both interleave on the one service.
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < 400) {
            const k = next++;
            await registries[k % 2].register(hosts[k % 2], [instance(`o-${k}`, 1024 + k)], false);
          }
        }),
      );
      const stored = (await stores[0].registry.load()).instances.map((i) => i.instanceId).sort();
      assert.equal(stored.length, 400);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !registries.every((r) => idsOf(r).length === 400)) await sleep(50);
      for (const [i, r] of registries.entries()) {
        const missing = stored.filter((id) => !idsOf(r).includes(id));
        assert.deepEqual(missing, [], `replica ${i}'s view lacks instances the store holds`);
      }
    } finally {
      for (const x of syncs) await x.sync.close();
      for (const r of registries) await r.close();
      await Promise.all(stores.map((st) => st.close()));
      await s.drop();
    }
  });
});
