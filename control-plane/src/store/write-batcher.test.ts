import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AgentInfo, InstanceSpec } from '@weft/shared';
import Database from 'better-sqlite3';
import { instanceSpec, tempDir } from '../test-support.js';
import { SqliteRegistryStore } from './sqlite-backend.js';
import { SqliteStore } from './sqlite-store.js';
import { WriteBatcher } from './write-batcher.js';

const agentA: AgentInfo = { agentId: 'a', hostname: 'a.local', address: '10.0.0.1', inboundPort: 15006, zone: 'z1', version: '1' };
const agentB: AgentInfo = { ...agentA, agentId: 'b' };

const spec = (service: string, instanceId: string): InstanceSpec => instanceSpec(service, instanceId);

function withStore(fn: (store: SqliteStore, file: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const file = join(dir.path, 'db');
  const store = SqliteStore.open(file);
  return fn(store, file).finally(() => {
    store.close();
    dir.remove();
  });
}

test('writes submitted in one turn share one transaction and are answered after it committed', async () => {
  await withStore(async (store, file) => {
    const batches: number[] = [];
    const batcher = new WriteBatcher(new SqliteRegistryStore(store), { onBatch: (n) => batches.push(n) });
    const order: string[] = [];
    const all = Array.from({ length: 50 }, (_, i) =>
      batcher.submit(
        () => ({ op: 'register', agent: agentA, instances: [spec('orders', `o${i}`)], replaceAll: false }),
        (r) => {
          order.push(`committed ${i}`);
          return r?.revision;
        },
      ),
    );
    assert.equal(batcher.pending, 50);
    const revisions = await Promise.all(all);
    assert.deepEqual(batches, [50]);
    assert.deepEqual(
      revisions,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      order,
      Array.from({ length: 50 }, (_, i) => `committed ${i}`),
    );
    // Durable: another connection sees every row.
    const other = new Database(file, { readonly: true });
    try {
      assert.equal((other.prepare('SELECT COUNT(*) AS n FROM instances').get() as { n: number }).n, 50);
    } finally {
      other.close();
    }
  });
});

test('a write that throws is rolled back alone; the rest of its batch commits', async () => {
  await withStore(async (store) => {
    const batcher = new WriteBatcher(new SqliteRegistryStore(store));
    await batcher.submit(() => ({ op: 'register', agent: agentA, instances: [spec('orders', 'o1')], replaceAll: false }));
    const results = await Promise.allSettled([
      batcher.submit(() => ({ op: 'register', agent: agentA, instances: [spec('orders', 'o2')], replaceAll: false })),
      // Writes o3 and then fails on o1 (owned by a): o3 must not survive.
      batcher.submit(() => ({ op: 'register', agent: agentB, instances: [spec('orders', 'o3'), spec('orders', 'o1')], replaceAll: false })),
      batcher.submit(() => ({ op: 'setHealth', agentId: 'a', instanceId: 'o1', health: 'passing' })),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(
      store.listInstances().map((i) => [i.instanceId, i.health]),
      [
        ['o1', 'passing'],
        ['o2', 'unknown'],
      ],
    );
    assert.equal(store.revision(), 3);
    assert.equal(store.getAgent('b'), undefined);
  });
});

test('a failed commit rejects every write of the batch and restores the revision', async () => {
  await withStore(async (store) => {
    const batcher = new WriteBatcher(new SqliteRegistryStore(store));
    await batcher.submit(() => ({ op: 'register', agent: agentA, instances: [spec('orders', 'o1')], replaceAll: false }));
    const realGroup = store.group.bind(store);
    // Simulate a COMMIT failure after the writes ran (e.g. disk full).
    store.group = <T>(fn: () => T): T =>
      realGroup(() => {
        fn();
        throw new Error('disk I/O error');
      });
    const results = await Promise.allSettled([
      batcher.submit(() => ({ op: 'register', agent: agentA, instances: [spec('orders', 'o2')], replaceAll: false })),
      batcher.submit(() => ({ op: 'setHealth', agentId: 'a', instanceId: 'o1', health: 'passing' })),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.equal(store.revision(), 1);
    assert.deepEqual(
      store.listInstances().map((i) => [i.instanceId, i.health]),
      [['o1', 'unknown']],
    );
  });
});
