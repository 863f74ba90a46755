import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AgentInfo, InstanceSpec } from '@weft/shared';
import { silentLogger } from '@weft/shared';
import { SqliteRegistryStore } from '../store/sqlite-backend.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { instanceSpec, tempDir } from '../test-support.js';
import { Registry } from './registry.js';

const agentA: AgentInfo = { agentId: 'a', hostname: 'a.local', address: '10.0.0.1', inboundPort: 15006, zone: 'z1', version: '1' };
const agentB: AgentInfo = { ...agentA, agentId: 'b', address: '10.0.0.2', zone: 'z2' };

const spec = (service: string, instanceId: string): InstanceSpec => instanceSpec(service, instanceId);

/** A registry with a hand-driven clock; sweep() is called by the test, not a timer. */
async function open(file: string, clock: { now: number }, ttl = 1000, grace = 5000) {
  const store = SqliteStore.open(file);
  const registry = new Registry(new SqliteRegistryStore(store), {
    leaseTtlMs: ttl,
    restartGraceMs: grace,
    logger: silentLogger,
    now: () => clock.now,
    sweepIntervalMs: 3_600_000,
  });
  await registry.start();
  return {
    store,
    registry,
    async close() {
      await registry.close();
      store.close();
    },
  };
}

test('joins endpoints with their agent and keeps them sorted by instance id', async () => {
  const dir = tempDir();
  const r = await open(join(dir.path, 'db'), { now: 0 });
  try {
    await r.registry.register(agentB, [spec('orders', 'o2')], false);
    await r.registry.register(agentA, [spec('orders', 'o1')], false);
    const entry = r.registry.service('orders')!;
    assert.equal(entry.version, '2');
    assert.deepEqual(
      entry.endpoints.map((e) => [e.instanceId, e.agentAddress, e.agentPort, e.zone]),
      [
        ['o1', '10.0.0.1', 15006, 'z1'],
        ['o2', '10.0.0.2', 15006, 'z2'],
      ],
    );
  } finally {
    await r.close();
    dir.remove();
  }
});

test('a change notifies only the watchers of the changed services', async () => {
  const dir = tempDir();
  const r = await open(join(dir.path, 'db'), { now: 0 });
  try {
    const seen: string[] = [];
    const cancelOrders = r.registry.watch('orders', (s) => seen.push(`w1:${s}`));
    r.registry.watch('users', (s) => seen.push(`w2:${s}`));
    await r.registry.register(agentA, [spec('orders', 'o1')], false);
    assert.deepEqual(seen, ['w1:orders']);
    cancelOrders();
    await r.registry.register(agentA, [spec('orders', 'o1'), spec('users', 'u1')], false);
    assert.deepEqual(seen, ['w1:orders', 'w2:users']);
  } finally {
    await r.close();
    dir.remove();
  }
});

test("removes an agent's instances when its lease lapses, and keeps a connected agent's", async () => {
  const dir = tempDir();
  const clock = { now: 1_000 };
  const r = await open(join(dir.path, 'db'), clock, 1000);
  try {
    await r.registry.register(agentA, [spec('orders', 'o1')], false); // no stream: lease = now + ttl
    await r.registry.agentConnected(agentB);
    await r.registry.register(agentB, [spec('orders', 'o2')], false);
    let notified = 0;
    r.registry.watch('orders', () => notified++);

    clock.now += 999;
    await r.registry.sweep();
    assert.equal(r.registry.service('orders')?.endpoints.length, 2);

    clock.now += 1;
    await r.registry.sweep();
    assert.deepEqual(
      r.registry.service('orders')?.endpoints.map((e) => e.instanceId),
      ['o2'],
    );
    assert.equal(notified, 1);
    assert.deepEqual(
      r.registry.agentRecords().map((a) => [a.info.agentId, a.connected]),
      [['b', true]],
    );

    // B's stream closes: its lease runs for the TTL, then everything it owned goes.
    r.registry.agentDisconnected('b');
    await new Promise((resolve) => setImmediate(resolve)); // the lease bookkeeping is group-committed
    assert.equal(r.registry.agentRecords()[0].leaseExpiresAtMs, clock.now + 1000);
    assert.equal(r.registry.agentRecords()[0].disconnectedAtMs, clock.now, 'when it disconnected, for weft services');
    clock.now += 1000;
    await r.registry.sweep();
    assert.equal(r.registry.service('orders'), undefined);
    assert.deepEqual(r.store.listInstances(), []);
    assert.deepEqual(r.store.listAgents(), []);
  } finally {
    await r.close();
    dir.remove();
  }
});

test('a restart grants every known agent the grace period, so the mesh is not emptied', async () => {
  const dir = tempDir();
  const file = join(dir.path, 'db');
  const clock = { now: 1_000 };
  const first = await open(file, clock, 1000, 5000);
  await first.registry.register(agentA, [spec('orders', 'o1')], false);
  const version = first.registry.service('orders')!.version;
  await first.close();

  clock.now += 60_000; // long past the old lease
  const second = await open(file, clock, 1000, 5000);
  try {
    await second.registry.sweep();
    assert.equal(second.registry.service('orders')?.version, version, 'same version after restart');
    assert.equal(second.registry.agentRecords()[0].leaseExpiresAtMs, clock.now + 5000);
    assert.equal(second.registry.agentRecords()[0].disconnectedAtMs, null, 'not known: it left before this process started');
    clock.now += 5000;
    await second.registry.sweep();
    assert.equal(second.registry.service('orders'), undefined);
  } finally {
    await second.close();
    dir.remove();
  }
});

test('writes of one event-loop turn commit together; a failing one does not fail the others', async () => {
  const dir = tempDir();
  const r = await open(join(dir.path, 'db'), { now: 0 });
  try {
    await r.registry.register(agentA, [spec('orders', 'o1')], false);
    const before = r.registry.revision();
    const results = await Promise.allSettled([
      r.registry.register(agentA, [spec('orders', 'o2')], false),
      // o1 belongs to agent a: this one fails alone (its savepoint is rolled back).
      r.registry.register(agentB, [spec('orders', 'o1')], false),
      r.registry.setHealth('a', 'o1', 'passing'),
      r.registry.deregister('a', ['nope']),
    ]);
    assert.deepEqual(
      results.map((x) => x.status),
      ['fulfilled', 'rejected', 'fulfilled', 'rejected'],
    );
    assert.equal(r.registry.revision(), before + 2);
    const entry = r.registry.service('orders')!;
    assert.equal(entry.version, String(before + 2));
    assert.deepEqual(
      entry.endpoints.map((e) => [e.instanceId, e.agentId, e.health]),
      [
        ['o1', 'a', 'passing'],
        ['o2', 'a', 'unknown'],
      ],
    );
    // The view was patched, not re-read: it matches the store exactly.
    assert.deepEqual(
      r.store.instancesOfService('orders').map((i) => [i.instanceId, i.health]),
      [
        ['o1', 'passing'],
        ['o2', 'unknown'],
      ],
    );
  } finally {
    await r.close();
    dir.remove();
  }
});

test("an agent's lease is written with its identity, and unchanged leases are not rewritten", async () => {
  const dir = tempDir();
  const clock = { now: 1_000 };
  const r = await open(join(dir.path, 'db'), clock, 1000);
  try {
    await r.registry.register(agentA, [spec('orders', 'o1')], false);
    assert.equal(r.store.getAgent('a')?.leaseExpiresAtMs, 2_000);
    await r.registry.agentConnected(agentA);
    assert.equal(r.store.getAgent('a')?.leaseExpiresAtMs, null);
    const rev = r.registry.revision();
    await r.registry.agentConnected(agentA); // same identity, lease already "connected": nothing written
    assert.equal(r.registry.revision(), rev);
  } finally {
    await r.close();
    dir.remove();
  }
});
