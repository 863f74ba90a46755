/**
 * `weft control-plane migrate --data-dir DIR --to postgres://…` end to end
 * (real processes): a SQLite mesh with registrations and traffic policy is
 * stopped, copied into a fresh PostgreSQL schema by the CLI, and a control
 * plane started with --store on that schema (same data dir, for the CA, and
 * same port) serves the same services and config; the still-running agent
 * reconnects and the migrated routing rule steers its traffic. Skipped with
 * the reason printed when no PostgreSQL answers.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freshSchema, postgresSkipReason } from '@weft/control-plane/pg-test-support';
import { type ControlPlaneProc, echoHandler, getJson, Mesh, registerWith, runWeft, viaProxy, waitFor } from './harness.js';

const skip = await postgresSkipReason();

const weft = runWeft;

const ROUTES = `apiVersion: weft.dev/v1
kind: Routes
metadata:
  service: orders
rules:
  - name: beta-users
    match:
      headers:
        - name: x-user
          exact: "1"
    route:
      - tags: [version=v2]
  - name: default
    route:
      - tags: [version=v1]
`;

/** What a control plane serves: its services (instance ids, sorted) and its config documents. */
async function served(cp: ControlPlaneProc): Promise<{ services: Record<string, string[]>; config: unknown }> {
  const s = await getJson<{ services: { name: string; instances: { instanceId: string }[] }[] }>(cp.httpPort, '/v1/services');
  const services = Object.fromEntries(s.services.map((x) => [x.name, x.instances.map((i) => i.instanceId).sort()]));
  return { services, config: await getJson(cp.httpPort, '/v1/config') };
}

describe('migrate a SQLite mesh to PostgreSQL (CLI, real processes)', { skip }, () => {
  test('the control plane on PostgreSQL serves the same services and config', async () => {
    const schema = await freshSchema();
    after(() => schema.drop());
    const mesh = new Mesh();
    after(() => mesh.close());
    const sqlite = await mesh.controlPlane({ restartGrace: '30s' });
    const cpAddr = `127.0.0.1:${sqlite.grpcPort}`;
    const agent = await mesh.agent('a', sqlite.grpcPort);
    const v1 = await mesh.service(echoHandler('v1'));
    const v2 = await mesh.service(echoHandler('v2'));
    const pay = await mesh.service(echoHandler('payments-1'));
    await registerWith(agent, { name: 'orders', port: v1.port, id: 'orders-v1', tags: ['version=v1'] });
    await registerWith(agent, { name: 'orders', port: v2.port, id: 'orders-v2', tags: ['version=v2'] });
    await registerWith(agent, { name: 'payments', port: pay.port, id: 'payments-1' });
    const file = join(mesh.dir, 'routes.yaml');
    writeFileSync(file, ROUTES);
    const applied = await weft(['apply', '-f', file, '--wait', '--control-plane', cpAddr]);
    assert.equal(applied.code, 0, applied.stderr);
    await waitFor('the beta rule to steer x-user: 1 to v2', async () => {
      const r = await viaProxy(agent.outboundPort, 'http://orders/', { headers: { 'x-user': '1' } });
      return r.headers['x-served-by'] === 'v2';
    });
    const before = await served(sqlite);
    assert.deepEqual(before.services, { orders: ['orders-v1', 'orders-v2'], payments: ['payments-1'] });

    // While the control plane runs, migrate refuses: its data dir is locked.
    const locked = await weft(['control-plane', '--data-dir', sqlite.dataDir, 'migrate', '--to', schema.url]);
    assert.notEqual(locked.code, 0);
    assert.match(locked.stderr, /migrate: .*stopped/);

    await sqlite.stop('SIGTERM');
    const migrated = await weft(['control-plane', '--data-dir', sqlite.dataDir, 'migrate', '--to', schema.url]);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /copied .* to PostgreSQL/);

    // Same data dir (its CA and bootstrap token) and same gRPC port, so the running agent reconnects.
    const onPg = await mesh.controlPlane({
      dataDir: sqlite.dataDir,
      grpcPort: sqlite.grpcPort,
      restartGrace: '30s',
      extra: ['--store', schema.url],
    });
    const after_ = await served(onPg);
    assert.deepEqual(after_.services, before.services);
    assert.deepEqual(after_.config, before.config);
    await waitFor('the agent connected to the control plane on PostgreSQL', async () => {
      const v = await getJson<{ agents: { agentId: string; connected: boolean }[] }>(onPg.httpPort, '/v1/agents');
      return v.agents.some((x) => x.agentId === 'a' && x.connected);
    });
    // The CLI reads the migrated rule back from the PostgreSQL-backed control plane; the agent keeps steering by it.
    const get = await weft(['get', 'routes', 'orders', '--control-plane', cpAddr]);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /beta-users/);
    for (let i = 0; i < 10; i++) {
      const r = await viaProxy(agent.outboundPort, 'http://orders/', { headers: { 'x-user': '1' } });
      assert.equal(r.headers['x-served-by'], 'v2');
    }
  });
});
