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
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { echoHandler, getJson, Mesh, postJson, servicesAtControlPlane, viaProxy, waitFor } from './harness.js';
import { SteadyLoad } from './harness-faults.js';
import { PrivatePostgres, privatePostgresSkipReason } from './private-postgres.js';

const reason = await privatePostgresSkipReason();
// Where the PostgreSQL tests are required (.ci/run), a machine that cannot run a server of its own is a failure.
const skip = reason && process.env.WEFT_TEST_POSTGRES !== 'required' ? reason : false;

function weft(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WEFT_BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

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
    const mesh = new Mesh();
    cleanup.push(() => mesh.close());
    const opts = { restartGrace: '30s', leaseTtl: '30s', extra: ['--store', server.url] };
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
    cleanup.push(() => load.stop());

    const acknowledged: string[] = [];
    let n = 0;
    const tryRegister = async () => {
      const id = `churn-${n++}`;
      const r = await register(id).catch(() => undefined);
      if (r?.status === 201) acknowledged.push(id);
      return r;
    };
    for (let i = 0; i < 5; i++) await tryRegister();
    await waitFor('the first registrations synced', async () => {
      const last = await getJson<{ synced?: boolean }>(agent.adminPort, `/v1/services/churn-${n - 1}`);
      return last.synced === true;
    });

    // 1. The server goes down as in a crash.
    await server.stop('immediate');
    for (let i = 0; i < 5; i++) await tryRegister();
    let during: { synced?: boolean; syncError?: string | null } = {};
    await waitFor('the agent to say why a registration made while the server is down is not synced', async () => {
      during = await getJson(agent.adminPort, `/v1/services/churn-${n - 1}`);
      return during.synced === false && typeof during.syncError === 'string' && during.syncError.length > 0;
    });
    t.diagnostic(`agent's sync error while PostgreSQL is down: ${during.syncError}`);
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
    assert.match(apply.stderr, new RegExp(`127\\.0\\.0\\.1:${server.port}`), 'the refusal names the database');
    t.diagnostic(`weft apply refused: ${apply.stderr.trim().split('\n')[0]}`);

    // 2. The server back: writes resume without a restart, the ones made meanwhile are synced.
    await server.start();
    await waitFor(
      'registrations to be acknowledged and synced again',
      async () => {
        await tryRegister();
        const last = await getJson<{ synced?: boolean }>(agent.adminPort, `/v1/services/churn-${n - 1}`);
        return last.synced === true;
      },
      30_000,
      500,
    );
    assert.equal((await weft(['apply', '-f', file, '--control-plane', cpAddr])).code, 0, 'weft apply accepted again');
    for (let i = 0; i < 5; i++) await tryRegister();
    const report = await load.stop();
    assert.deepEqual(report.failures, [], 'proxied requests failed while PostgreSQL was down');

    // Nothing acknowledged lost: a control plane started afresh on the database lists every one.
    await waitFor('every registration synced', async () => {
      const all = await Promise.all(acknowledged.map((id) => getJson<{ synced?: boolean }>(agent.adminPort, `/v1/services/${id}`)));
      return all.every((s) => s.synced === true);
    });
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
