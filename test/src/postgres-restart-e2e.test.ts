/**
 * PostgreSQL itself stopped (as a crash) and started again under a real
 * `weft control-plane --store` process and a real agent with traffic. The
 * server is the test's own (private-postgres.ts), so stopping it touches no
 * other test.
 * Contract: while the server is down, proxied traffic keeps flowing from
 * memory, a write (`weft apply`) is refused with UNAVAILABLE naming the
 * database, and the agent says why the registrations it acknowledged
 * meanwhile are not synced; once the server is back, writes resume without a
 * restart and every acknowledged registration is in the database (a control
 * plane started afresh on it lists them).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor } from './harness.js';
import { StoreOutageMesh } from './harness-store-outage.js';
import { PrivatePostgres, privatePostgresSkipReason } from './private-postgres.js';

const reason = await privatePostgresSkipReason();
// Where the PostgreSQL tests are required (.ci/run), a machine that cannot run a server of its own is a failure.
const skip = reason && process.env.WEFT_TEST_POSTGRES !== 'required' ? reason : false;

describe('PostgreSQL stopped and started under a real control plane', { skip }, () => {
  test('traffic flows while it is down, writes are refused naming it, then resume without a restart; nothing acknowledged is lost', async (t) => {
    assert.equal(reason, undefined, `cannot run a PostgreSQL server of the test's own: ${reason}`);
    // Torn down on every path, newest first (load, then processes, then the server).
    const cleanup: (() => Promise<unknown>)[] = [];
    t.after(async () => {
      for (const step of cleanup.reverse()) await step().catch(() => {});
    });
    const server = await PrivatePostgres.create();
    cleanup.push(() => server.destroy());
    const m = await StoreOutageMesh.start(server.url, cleanup);
    for (let i = 0; i < 5; i++) await m.register();
    await waitFor('the first registrations synced', async () => (await m.syncView()).synced === true);

    // 1. The server goes down as in a crash.
    await server.stop('immediate');
    for (let i = 0; i < 5; i++) await m.register();
    t.diagnostic(`agent's sync error while PostgreSQL is down: ${await m.unsyncedReason('while the server is down')}`);
    await m.expectApplyRefused(t, new RegExp(`127\\.0\\.0\\.1:${server.port}`));

    // 2. The server back: writes resume without a restart, the ones made meanwhile are synced.
    await server.start();
    await m.expectSyncedAgain(t);
    assert.equal((await m.apply()).code, 0, 'weft apply accepted again');
    for (let i = 0; i < 5; i++) await m.register();
    const report = await m.expectTrafficUnbroken();

    // Nothing acknowledged lost: every registration synced, and a control plane started afresh lists every one.
    await waitFor('every registration synced', async () => {
      const all = await Promise.all(m.acknowledged.map((id) => m.syncView(id)));
      return all.every((s) => s.synced === true);
    });
    await m.expectNothingLost();
    t.diagnostic(`${m.acknowledged.length} acknowledged of ${m.attempted} attempted; ${report.ok} proxied requests ok`);
  });
});
