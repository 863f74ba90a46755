/** Against the real PostgreSQL (postgres-for-tests.ts says when it is skipped). */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { silentLogger } from '@weft/shared';
import pg from 'pg';
import type { ChangeNotice } from './change-notice.js';
import { ChangeNotifier } from './change-notifier.js';
import { postgresForTests } from './postgres-for-tests.js';
import { eventually, terminateBackends } from './test-helpers.js';

const db = await postgresForTests();

describe('change notifier over LISTEN/NOTIFY', { skip: db.skip }, () => {
  const url = db.url ?? '';
  const channel = `weft_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const open: ChangeNotifier[] = [];
  const admin = new pg.Client({ connectionString: url });
  admin.on('error', () => {});
  let adminConnected: Promise<void> | undefined;

  function replica(id: string): { notifier: ChangeNotifier; notices: ChangeNotice[]; resyncs: string[] } {
    const notifier = new ChangeNotifier({
      connection: { connectionString: url, applicationName: `${channel} ${id}` },
      replicaId: id,
      channel,
      logger: silentLogger,
      pingIntervalMs: 500,
    });
    const notices: ChangeNotice[] = [];
    const resyncs: string[] = [];
    notifier.subscribe((n) => notices.push(n));
    notifier.onResync((r) => resyncs.push(r));
    notifier.start();
    open.push(notifier);
    return { notifier, notices, resyncs };
  }
  async function adminClient(): Promise<pg.Client> {
    adminConnected ??= admin.connect().then(() => {});
    await adminConnected;
    return admin;
  }

  after(async () => {
    for (const n of open) await n.close();
    await admin.end().catch(() => {});
  });

  test('a change published by one replica reaches the other, and not the sender', async () => {
    const one = replica('r1');
    const two = replica('r2');
    await eventually('both listening', () => one.notifier.isListening() && two.notifier.isListening());
    await one.notifier.publish({ kind: 'registry', revision: 7, services: ['orders'], agents: ['agent-a'] });
    await eventually('the notice at r2', () => two.notices.length === 1);
    assert.deepEqual(two.notices[0], {
      form: 'change',
      replica: 'r1',
      kind: 'registry',
      revision: 7,
      services: ['orders'],
      agents: ['agent-a'],
    });
    // A later notice through r2 proves r1's own earlier notice would have been seen by now if delivered.
    await two.notifier.publish({ kind: 'policy', revision: 3, services: ['web'] });
    await eventually('the notice at r1', () => one.notices.length === 1);
    assert.equal(one.notices[0]?.replica, 'r2');
    assert.equal(two.notices.length, 1);
    assert.deepEqual(one.resyncs, ['connected']);
  });

  test('a change too large for one notice arrives as a reload', async () => {
    const one = replica('r3');
    const two = replica('r4');
    await eventually('both listening', () => one.notifier.isListening() && two.notifier.isListening());
    const services = Array.from({ length: 3_000 }, (_, i) => `service-${i}`);
    await one.notifier.publish({ kind: 'registry', revision: 500, services });
    await eventually('the reload at r4', () => two.notices.length === 1);
    assert.deepEqual(two.notices[0], { form: 'reload', replica: 'r3', kind: 'registry', revision: 500, reloadAfter: 499 });
  });

  test('a notice sent in a transaction arrives when it commits, never when it rolls back', async () => {
    const writer = replica('r5');
    const reader = replica('r6');
    await eventually('both listening', () => writer.notifier.isListening() && reader.notifier.isListening());
    const client = await adminClient();
    const rolledBack = writer.notifier.notifyStatement({ kind: 'registry', revision: 10 });
    await client.query('BEGIN');
    await client.query(rolledBack.text, rolledBack.values);
    await client.query('ROLLBACK');
    const committed = writer.notifier.notifyStatement({ kind: 'registry', revision: 11 });
    await client.query('BEGIN');
    await client.query(committed.text, committed.values);
    assert.equal(reader.notices.length, 0, 'delivered before COMMIT');
    await client.query('COMMIT');
    await eventually('the committed notice', () => reader.notices.length === 1);
    assert.equal(reader.notices[0]?.revision, 11);
  });

  test('resync fires after the listening connection is terminated, and notices flow again', async () => {
    const one = replica('r7');
    const two = replica('r8');
    await eventually('both listening', () => one.notifier.isListening() && two.notifier.isListening());
    await eventually('first resync', () => two.resyncs.length === 1);
    const killed = await terminateBackends(await adminClient(), `${channel} r8`);
    assert.equal(killed, 1);
    await eventually('resync after reconnect', () => two.resyncs.length === 2, 10_000);
    assert.equal(two.resyncs[1], 'reconnected');
    await one.notifier.publish({ kind: 'registry', revision: 20, services: ['orders'] });
    await eventually('the notice after the reconnect', () => two.notices.some((n) => n.revision === 20));
  });

  test('an unreadable payload on the channel triggers a resync, not a crash', async () => {
    const one = replica('r9');
    await eventually('listening', () => one.notifier.isListening() && one.resyncs.length === 1);
    await (await adminClient()).query('SELECT pg_notify($1, $2)', [channel, '{"v":1,"r":"x","k":"registry","rev":"nine"}']);
    await eventually('resync on the bad notice', () => one.resyncs.length === 2);
    assert.match(one.resyncs[1] ?? '', /unreadable notice: rev:/);
    assert.equal(one.notices.length, 0);
  });

  test('a notifier whose database does not answer keeps retrying quietly, then listens once it does', async () => {
    // A TCP proxy that refuses until it is switched on stands for a database that is down, then back.
    const { createServer, connect } = await import('node:net');
    const target = new URL(url);
    let up = false;
    const proxy = createServer((client) => {
      if (!up) {
        client.destroy();
        return;
      }
      const server = connect(Number(target.port || 5432), target.hostname);
      client.pipe(server).pipe(client);
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as { port: number }).port;
    const viaProxy = new URL(url);
    viaProxy.host = `127.0.0.1:${port}`;
    const notifier = new ChangeNotifier({
      connection: { connectionString: viaProxy.href },
      replicaId: 'r11',
      channel,
      logger: silentLogger,
    });
    const resyncs: string[] = [];
    notifier.onResync((r) => resyncs.push(r));
    notifier.start();
    try {
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(notifier.isListening(), false);
      assert.deepEqual(resyncs, []);
      up = true;
      await eventually('listening once the database answers', () => notifier.isListening() && resyncs.length === 1, 10_000);
      assert.deepEqual(resyncs, ['connected']);
    } finally {
      await notifier.close();
      await new Promise((r) => proxy.close(r));
    }
  });

  test('publish while disconnected is refused with the database named', async () => {
    const lonely = new ChangeNotifier({ connection: { connectionString: url }, replicaId: 'r10', channel, logger: silentLogger });
    await assert.rejects(
      lonely.publish({ kind: 'registry', revision: 1 }),
      new RegExp(`not connected to ${escapeRegExp(withoutPassword(url))}`),
    );
    await lonely.close();
  });
});

/** postgres://user@host:port/db of `url`, as the notifier names its database (whichever user the test runs as). */
function withoutPassword(url: string): string {
  const u = new URL(url);
  return `postgres://${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
