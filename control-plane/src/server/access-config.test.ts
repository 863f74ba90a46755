/**
 * What the control plane does for access policy: "mesh/settings" on every
 * agent's stream (the default access decision from --default-access, sent
 * once, not resent to an agent that holds it, never resent after a NACK),
 * AccessPolicy documents applied, stored, listed, versioned and rolled back
 * like the other kinds and carried in "policy/<service>", and the migration
 * that admits the new kind in an existing database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ApplyConfigResponse__Output } from '@weft/shared/generated/weft/v1/ApplyConfigResponse';
import type { ConfigHistoryResponse__Output } from '@weft/shared/generated/weft/v1/ConfigHistoryResponse';
import type { GetConfigResponse__Output } from '@weft/shared/generated/weft/v1/GetConfigResponse';
import Database from 'better-sqlite3';
import { MIGRATIONS, migrate } from '../store/migrations.js';
import { agentInfo, type Harness, startHarness, TestStream } from '../test-support.js';

const accessDoc = (service: string, rules: unknown[], mode?: string) =>
  JSON.stringify({ apiVersion: 'weft.dev/v1', kind: 'AccessPolicy', metadata: { service }, ...(mode ? { mode } : {}), rules });

describe('mesh/settings', () => {
  let h: Harness;
  let deny: Harness;
  before(async () => {
    h = await startHarness();
    deny = await startHarness({ defaultAccess: 'deny' });
  });
  after(async () => {
    await h.close();
    await deny.close();
  });

  it('is answered at once with the default access, all-authenticated unless the control plane says deny', async () => {
    for (const [harness, mode] of [
      [h, 'all-authenticated'],
      [deny, 'deny'],
    ] as const) {
      const s = new TestStream(harness.discovery).send({ agent: agentInfo('settings-a'), subscribe: ['mesh/settings'] });
      try {
        const r = await s.next();
        assert.deepEqual(
          r.resources.map((x) => [x.name, x.version, x.mesh?.default_access]),
          [['mesh/settings', `default-access=${mode}`, mode]],
        );
      } finally {
        s.close();
      }
    }
  });

  it('is not sent again to an agent that holds the version, nor after the agent rejected it', async () => {
    const held = new TestStream(h.discovery).send({
      agent: agentInfo('settings-b'),
      initial_versions: { 'mesh/settings': 'default-access=all-authenticated' },
    });
    try {
      const r = await held.next();
      assert.deepEqual(r.resources, []);
    } finally {
      held.close();
    }
    const first = new TestStream(h.discovery).send({ agent: agentInfo('settings-c'), subscribe: ['mesh/settings'] });
    const r1 = await first.next();
    first.ack(r1.nonce, [{ name: 'mesh/settings', version: r1.resources[0].version, message: 'mesh.default_access: unsupported' }]);
    await new Promise((r) => setTimeout(r, 100));
    first.close();
    const again = new TestStream(h.discovery).send({ agent: agentInfo('settings-c'), subscribe: ['mesh/settings'] });
    try {
      const r2 = await again.next();
      assert.deepEqual(r2.resources, []);
    } finally {
      again.close();
    }
  });
});

describe('AccessPolicy documents at the control plane', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('applies, serves on policy/<service>, lists, keeps history and rolls back', async () => {
    const applied = await h.call<ApplyConfigResponse__Output>('ApplyConfig', {
      documents: [{ source: 'a.yaml: doc 1', json: accessDoc('orders', [{ action: 'allow', from: ['web'] }]) }],
    });
    assert.deepEqual(
      applied.changes.map((c) => [c.kind, c.service, c.action]),
      [['AccessPolicy', 'orders', 'create']],
    );
    const s = new TestStream(h.discovery).send({ agent: agentInfo('access-a'), subscribe: ['policy/orders'] });
    try {
      const r = await s.next();
      const bundle = JSON.parse(r.resources[0].policy?.json ?? '{}');
      assert.deepEqual(bundle.access.rules, [{ action: 'allow', from: ['web'] }]);
      s.ack(r.nonce);
      const second = await h.call<ApplyConfigResponse__Output>('ApplyConfig', {
        documents: [{ source: 'a.yaml: doc 1', json: accessDoc('orders', [{ action: 'deny', from: ['*'] }], 'shadow') }],
      });
      const pushed = await s.next();
      assert.equal(pushed.resources[0].version, second.revision);
      assert.equal(JSON.parse(pushed.resources[0].policy?.json ?? '{}').access.mode, 'shadow');
    } finally {
      s.close();
    }
    const got = await h.call<GetConfigResponse__Output>('GetConfig', { service: 'orders', kind: 'AccessPolicy' });
    assert.deepEqual(
      got.documents.map((d) => [d.kind, JSON.parse(d.json).mode]),
      [['AccessPolicy', 'shadow']],
    );
    const history = await h.call<ConfigHistoryResponse__Output>('ConfigHistory', { service: 'orders' });
    assert.equal(history.revisions.length, 2);
    const back = await h.call<ApplyConfigResponse__Output>('RollbackConfig', { revision: applied.revision });
    assert.deepEqual(
      back.changes.map((c) => [c.kind, c.action, JSON.parse(c.after_json).rules[0].action]),
      [['AccessPolicy', 'update', 'allow']],
    );
  });

  it('refuses an invalid document with every problem, naming source and field', async () => {
    await assert.rejects(
      h.call('ApplyConfig', {
        documents: [{ source: 'b.yaml: doc 1', json: accessDoc('orders', [{ action: 'permit', from: ['WEB'] }], 'audit') }],
      }),
      (err: Error) => {
        const lines = err.message.split('\n');
        assert.match(lines[0], /b\.yaml: doc 1: mode: must be one of enforce, shadow/);
        assert.match(lines[1], /b\.yaml: doc 1: rules\[0\]\.action: must be one of allow, deny/);
        assert.match(lines[2], /b\.yaml: doc 1: rules\[0\]\.from\[0\]: invalid service name/);
        return true;
      },
    );
  });
});

describe('migration 4', () => {
  it('keeps the stored documents and admits the AccessPolicy kind', () => {
    const db = new Database(':memory:');
    try {
      migrate(db, MIGRATIONS.slice(0, 3));
      db.prepare("INSERT INTO policy (service, kind, json, revision) VALUES ('orders', 'Routes', '{}', 1)").run();
      assert.throws(() =>
        db.prepare("INSERT INTO policy (service, kind, json, revision) VALUES ('orders', 'AccessPolicy', '{}', 1)").run(),
      );
      assert.equal(migrate(db, MIGRATIONS.slice(0, 4)), 4);
      assert.deepEqual(db.prepare('SELECT service, kind FROM policy').all(), [{ service: 'orders', kind: 'Routes' }]);
      db.prepare("INSERT INTO policy (service, kind, json, revision) VALUES ('orders', 'AccessPolicy', '{}', 2)").run();
      assert.throws(
        () => db.prepare("INSERT INTO policy (service, kind, json, revision) VALUES ('orders', 'Other', '{}', 2)").run(),
        /CHECK/,
      );
    } finally {
      db.close();
    }
  });
});
