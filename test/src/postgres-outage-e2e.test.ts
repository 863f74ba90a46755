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
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { freshDatabase, PG_TEST_URL, postgresSkipReason } from '@weft/control-plane/pg-test-support';
import pg from 'pg';
import { echoHandler, getJson, Mesh, postJson, servicesAtControlPlane, viaProxy, waitFor } from './harness.js';
import { SteadyLoad } from './harness-faults.js';

const skip = await postgresSkipReason();

function weft(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WEFT_BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('PostgreSQL connections cut under a real control plane', { skip }, () => {
  test('terminated connections come back; refused writes name the database; nothing acknowledged is lost', async (t) => {
    const db = await freshDatabase();
    // Torn down on every path, newest first (load, then processes, then the database).
    const cleanup: (() => Promise<unknown>)[] = [];
    t.after(async () => {
      for (const step of cleanup.reverse()) await step().catch(() => {});
    });
    cleanup.push(() => db.drop());
    const admin = new pg.Client({ connectionString: PG_TEST_URL });
    await admin.connect();
    cleanup.push(() => admin.end());
    const mesh = new Mesh();
    cleanup.push(() => mesh.close());
    const opts = { restartGrace: '30s', leaseTtl: '30s', extra: ['--store', db.url] };
    const cp = await mesh.controlPlane(opts);
    const cpAddr = `127.0.0.1:${cp.grpcPort}`;
    const agent = await mesh.agent('a', cp.grpcPort);
    const orders = await mesh.service(echoHandler('orders-1'));
    const target = await mesh.service(echoHandler('churn'));
    const register = (id: string, name = 'churn') =>
      postJson(agent.adminPort, '/v1/services', { name, port: name === 'orders' ? orders.port : target.port, id });
    assert.equal((await register('orders-1', 'orders')).status, 201);
    await waitFor('orders routable', async () => (await viaProxy(agent.outboundPort, 'http://orders/')).status === 200);
    const load = new SteadyLoad(agent, 'http://orders/', 2, 10);
    // Stopped on every path: a failed assertion must not leave the load running and the test process alive.
    cleanup.push(() => load.stop());

    const acknowledged: string[] = [];
    let n = 0;
    const tryRegister = async () => {
      const id = `churn-${n++}`;
      const r = await register(id).catch(() => undefined);
      if (r?.status === 201) acknowledged.push(id);
      return r;
    };

    // 1. Only this control plane's connections terminated, the database still open: it reconnects by itself.
    for (let i = 0; i < 5; i++) await tryRegister();
    const killed = await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2',
      ['weft-control-plane', db.name],
    );
    assert.ok(killed.rowCount! > 0, 'no connection of the control plane found in pg_stat_activity');
    t.diagnostic(`terminated ${killed.rowCount} connections`);
    await waitFor('a registration acknowledged after the terminations', async () => (await tryRegister())?.status === 201);
    for (let i = 0; i < 5; i++) await tryRegister();

    // 2. The database refuses connections: writes are refused, naming it; traffic flows from memory.
    await db.allowConnections(false);
    // The agent API acknowledges a registration locally and syncs it to the control plane (retrying): these
    // acknowledged during the outage must be in the database once it is back.
    for (let i = 0; i < 5; i++) await tryRegister();
    // The agent acknowledges at once and syncs in the background: its view must come to say why the last one is
    // not synced (the control plane's UNAVAILABLE naming the database, or that the stream is down).
    let during: { synced?: boolean; syncError?: string | null } = {};
    await waitFor('the agent to say why a registration made during the outage is not synced', async () => {
      during = await getJson(agent.adminPort, `/v1/services/churn-${n - 1}`);
      return during.synced === false && typeof during.syncError === 'string' && during.syncError.length > 0;
    });
    t.diagnostic(`agent's sync error during the outage: ${during.syncError}`);
    const file = join(mesh.dir, 'routes.yaml');
    writeFileSync(
      file,
      'apiVersion: weft.dev/v1\nkind: Routes\nmetadata:\n  service: orders\nrules:\n  - name: all\n    route:\n      - tags: []\n',
    );
    const apply = await weft(['apply', '-f', file, '--control-plane', cpAddr]);
    if (!/its store is unavailable/.test(apply.stderr)) {
      t.diagnostic(`control plane's last log lines:\n${cp.logLines.slice(-30).join('\n')}`);
    }
    assert.notEqual(apply.code, 0);
    assert.match(apply.stderr, /refused by the control plane at .*, its store is unavailable/);
    assert.match(apply.stderr, new RegExp(db.name));
    t.diagnostic(`weft apply refused: ${apply.stderr.trim().split('\n')[0]}`);

    // 3. The database back: writes resume without a restart.
    await db.allowConnections(true);
    await waitFor('registrations to be acknowledged again', async () => (await tryRegister())?.status === 201);
    for (let i = 0; i < 5; i++) await tryRegister();
    const report = await load.stop();
    assert.deepEqual(report.failures, [], 'proxied requests failed while PostgreSQL was away');

    // Nothing acknowledged lost: a control plane started afresh on the database lists every one.
    await cp.stop('SIGKILL');
    const again = await mesh.controlPlane({ ...opts, dataDir: cp.dataDir, grpcPort: cp.grpcPort });
    const present = new Set((await servicesAtControlPlane(again)).get('churn') ?? []);
    assert.deepEqual(
      acknowledged.filter((id) => !present.has(id)),
      [],
      'acknowledged registrations missing',
    );
    t.diagnostic(`${acknowledged.length} acknowledged of ${n} attempted; ${report.ok} proxied requests ok`);
  });
});
