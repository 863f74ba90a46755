import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AgentInfo } from '@weft/shared';
import { NotFoundError, ValidationError } from '@weft/shared';
import Database from 'better-sqlite3';
import { instanceSpec, tempDir } from '../test-support.js';
import { MIGRATIONS, migrate } from './migrations.js';
import { type ChangeResult, SqliteStore } from './sqlite-store.js';

const agentA: AgentInfo = { agentId: 'a', hostname: 'a.local', address: '10.0.0.1', inboundPort: 15006, zone: 'z1', version: '1' };
const agentB: AgentInfo = { ...agentA, agentId: 'b', address: '10.0.0.2' };

const spec = instanceSpec;

function withStore(fn: (store: SqliteStore, file: string) => void): void {
  const dir = tempDir();
  const file = join(dir.path, 'control-plane.db');
  const store = SqliteStore.open(file);
  try {
    fn(store, file);
  } finally {
    store.close();
    dir.remove();
  }
}

test('migrations run once, are recorded, and leave WAL mode on', () => {
  withStore((store, file) => {
    assert.equal(store.revision(), 0);
    store.close();
    const reopened = SqliteStore.open(file);
    reopened.close();
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT version, name FROM schema_migrations').all();
    assert.deepEqual(
      rows,
      MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    );
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });
});

test('a failing migration is rolled back whole and not recorded', () => {
  const db = new Database(':memory:');
  try {
    migrate(db);
    const broken = [
      ...MIGRATIONS,
      { version: MIGRATIONS.length + 1, name: 'broken', sql: 'CREATE TABLE extra (x INTEGER); SELECT * FROM no_such_table;' },
    ];
    assert.throws(() => migrate(db, broken), /no_such_table/);
    const versions = db.prepare('SELECT version FROM schema_migrations').pluck().all();
    assert.deepEqual(
      versions,
      MIGRATIONS.map((m) => m.version),
    );
    const extra = db.prepare("SELECT name FROM sqlite_master WHERE name = 'extra'").get();
    assert.equal(extra, undefined);
  } finally {
    db.close();
  }
});

/** The part of a ChangeResult most tests compare (the instance rows are checked separately). */
function brief<T extends ChangeResult>({ instanceChanges: _i, reloadServices: _r, ...rest }: T) {
  return rest;
}

test('every change bumps the revision once and records it on rows and services; a no-op writes nothing', () => {
  withStore((store, file) => {
    const r1 = store.registerInstances(agentA, [spec('orders', 'o1'), spec('users', 'u1')], false);
    assert.deepEqual(brief(r1), { revision: 1, changedServices: ['orders', 'users'] });

    const again = store.registerInstances(agentA, [spec('orders', 'o1'), spec('users', 'u1')], false);
    assert.deepEqual(brief(again), { revision: 1, changedServices: [] });

    const r2 = store.setHealth('a', 'o1', 'passing');
    assert.deepEqual(
      r2.instanceChanges.map((c) => [c.service, c.instanceId, c.instance?.health]),
      [['orders', 'o1', 'passing']],
    );
    assert.deepEqual(brief(r2), { revision: 2, changedServices: ['orders'] });
    assert.deepEqual(
      store.serviceVersions(),
      new Map([
        ['orders', 2],
        ['users', 1],
      ]),
    );

    const db = new Database(file, { readonly: true });
    assert.deepEqual(db.prepare('SELECT instance_id, revision FROM instances ORDER BY instance_id').all(), [
      { instance_id: 'o1', revision: 2 },
      { instance_id: 'u1', revision: 1 },
    ]);
    assert.equal(db.prepare("SELECT value FROM meta WHERE key = 'revision'").pluck().get(), 2);
    db.close();
  });
});

test("replace_all removes the agent's other instances in the same change", () => {
  withStore((store) => {
    store.registerInstances(agentA, [spec('orders', 'o1'), spec('orders', 'o2'), spec('users', 'u1')], false);
    const r = store.registerInstances(agentA, [spec('orders', 'o1')], true);
    assert.deepEqual(r.changedServices, ['orders', 'users']);
    assert.deepEqual(
      store.listInstances().map((i) => i.instanceId),
      ['o1'],
    );
    assert.deepEqual(store.serviceVersions(), new Map([['orders', r.revision]]));
  });
});

test('a failure in the middle of a change rolls back everything (nothing half-written)', () => {
  withStore((store) => {
    store.registerInstances(agentA, [spec('orders', 'o1')], false);
    // The store is below validation; the schema's CHECK is the last line of defence.
    assert.throws(() => store.registerInstances(agentA, [spec('orders', 'o2'), spec('orders', 'o3', { port: 0 })], false), /CHECK/);
    assert.equal(store.revision(), 1);
    assert.deepEqual(
      store.listInstances().map((i) => i.instanceId),
      ['o1'],
    );
    // An id owned by another agent fails the whole change and names the field.
    assert.throws(
      () => store.registerInstances(agentB, [spec('users', 'u9'), spec('orders', 'o1')], false),
      (err: unknown) => err instanceof ValidationError && err.field === 'instances[1].instance_id',
    );
    assert.equal(store.getAgent('b'), undefined);
    assert.equal(store.revision(), 1);
  });
});

test('deregister and setHealth refuse instances the agent does not own', () => {
  withStore((store) => {
    store.registerInstances(agentA, [spec('orders', 'o1')], false);
    assert.throws(() => store.deregister('b', ['o1']), NotFoundError);
    assert.throws(() => store.deregister('a', ['o1', 'nope']), /instance_ids\[1\]/);
    assert.throws(() => store.setHealth('a', 'nope', 'passing'), NotFoundError);
    assert.equal(store.listInstances().length, 1);
    const r = store.deregister('a', ['o1']);
    assert.equal(r.removed, 1);
    assert.deepEqual(r.changedServices, ['orders']);
    assert.deepEqual(store.serviceVersions(), new Map());
  });
});

test('removeAgent deletes the agent and all its instances in one change', () => {
  withStore((store) => {
    store.registerInstances(agentA, [spec('orders', 'o1'), spec('users', 'u1')], false);
    store.registerInstances(agentB, [spec('orders', 'o2')], false);
    const before = store.revision();
    const r = store.removeAgent('a');
    assert.deepEqual(brief(r), { revision: before + 1, changedServices: ['orders', 'users'], removed: 2 });
    assert.deepEqual(r.instanceChanges.map((c) => [c.service, c.instanceId, c.instance]).sort(), [
      ['orders', 'o1', null],
      ['users', 'u1', null],
    ]);
    assert.deepEqual(
      store.listAgents().map((a) => a.agentId),
      ['b'],
    );
    assert.deepEqual(
      store.listInstances().map((i) => i.instanceId),
      ['o2'],
    );
  });
});

test('an agent address change is a change of every service it hosts', () => {
  withStore((store) => {
    store.registerInstances(agentA, [spec('orders', 'o1')], false);
    assert.deepEqual(store.upsertAgent(agentA).changedServices, []);
    const moved = store.upsertAgent({ ...agentA, address: '10.0.0.9' });
    assert.deepEqual(brief(moved), { revision: 2, changedServices: ['orders'] });
    assert.deepEqual(moved.reloadServices, ['orders']);
    assert.equal(store.getAgent('a')?.address, '10.0.0.9');
  });
});
