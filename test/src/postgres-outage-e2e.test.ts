/**
 * PostgreSQL connections of a real `weft control-plane --store` process cut
 * from under it, end to end through a real agent. The control plane runs on a
 * throwaway database this test creates (ALTER DATABASE … ALLOW_CONNECTIONS is
 * only ever used on it), so the pg_terminate_backend filter (application_name
 * 'weft-control-plane' and that database's name) reaches this test's
 * connections only.
 * Contract: with connections terminated the control plane reconnects by
 * itself; while the database refuses connections, a write (`weft apply`) is
 * refused with UNAVAILABLE naming the database and proxied traffic keeps
 * flowing; registrations the agent API acknowledges meanwhile (it accepts
 * them locally and syncs them) reach the database once it accepts again,
 * without a restart; every acknowledged registration is in the database (a
 * control plane started afresh on it lists them).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freshDatabase, PG_TEST_URL, postgresSkipReason } from '@weft/control-plane/pg-test-support';
import pg from 'pg';
import { waitFor } from './harness.js';
import { StoreOutageMesh } from './harness-store-outage.js';

const skip = await postgresSkipReason();

describe('PostgreSQL connections cut under a real control plane', { skip }, () => {
  test('terminated connections come back; refused writes name the database; nothing acknowledged is lost', async (t) => {
    // Torn down on every path, newest first (load, then processes, then the database).
    const cleanup: (() => Promise<unknown>)[] = [];
    t.after(async () => {
      for (const step of cleanup.reverse()) await step().catch(() => {});
    });
    const db = await freshDatabase();
    cleanup.push(() => db.drop());
    const admin = new pg.Client({ connectionString: PG_TEST_URL });
    await admin.connect();
    cleanup.push(() => admin.end());
    const m = await StoreOutageMesh.start(db.url, cleanup);

    // 1. Only this control plane's connections terminated, the database still open: it reconnects by itself.
    for (let i = 0; i < 5; i++) await m.register();
    const killed = await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2',
      ['weft-control-plane', db.name],
    );
    assert.ok(killed.rowCount! > 0, 'no connection of the control plane found in pg_stat_activity');
    t.diagnostic(`terminated ${killed.rowCount} connections`);
    await waitFor('a registration acknowledged after the terminations', async () => (await m.register())?.status === 201);
    for (let i = 0; i < 5; i++) await m.register();

    // 2. The database refuses connections: writes are refused, naming it; traffic flows from memory.
    await db.allowConnections(false);
    // The agent API acknowledges a registration locally and syncs it to the control plane (retrying): these
    // acknowledged during the outage must be in the database once it is back.
    for (let i = 0; i < 5; i++) await m.register();
    t.diagnostic(`agent's sync error during the outage: ${await m.unsyncedReason('during the outage')}`);
    await m.expectApplyRefused(t, new RegExp(db.name));

    // 3. The database back: writes resume without a restart.
    await db.allowConnections(true);
    await waitFor('registrations to be acknowledged again', async () => (await m.register())?.status === 201);
    for (let i = 0; i < 5; i++) await m.register();
    const report = await m.expectTrafficUnbroken();
    await m.expectNothingLost();
    t.diagnostic(`${m.acknowledged.length} acknowledged of ${m.attempted} attempted; ${report.ok} proxied requests ok`);
  });
});
