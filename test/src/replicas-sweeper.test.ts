/**
 * The lease sweeper moves with the leader lease: three control-plane replicas
 * (real processes) on one fresh PostgreSQL schema; the one that logged that it
 * sweeps is killed with SIGKILL, another takes the lease, and an agent whose
 * process is then killed has its instances removed at every surviving replica
 * once its lease (2 s here) lapses. Skipped with the reason printed when no
 * PostgreSQL answers.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freshSchema, postgresSkipReason } from '@weft/control-plane/pg-test-support';
import { type ControlPlaneProc, echoHandler, Mesh, registerWith, servicesAtControlPlane, waitFor } from './harness.js';

const skip = await postgresSkipReason();
const SWEEPS = 'this replica sweeps lapsed agent leases';

const sweeps = (cp: ControlPlaneProc) => cp.logLines.some((l) => l.includes(SWEEPS));

describe('lease sweeper on PostgreSQL replicas (real processes)', { skip }, () => {
  test('the sweeping replica killed: another sweeps, a killed agent loses its instances after its lease', async (t) => {
    const schema = await freshSchema();
    after(() => schema.drop());
    const mesh = new Mesh();
    after(() => mesh.close());
    const opts = { leaseTtl: '2s', restartGrace: '2s', extra: ['--store', schema.url] };
    const r1 = await mesh.controlPlane(opts);
    const replicaDir = (n: number) => {
      const dir = join(mesh.dir, `replica-${n}`);
      mkdirSync(dir, { recursive: true });
      cpSync(join(r1.dataDir, 'ca'), join(dir, 'ca'), { recursive: true });
      cpSync(join(r1.dataDir, 'operator.token'), join(dir, 'operator.token'));
      return dir;
    };
    const replicas = [r1, ...(await Promise.all([2, 3].map((n) => mesh.controlPlane({ ...opts, dataDir: replicaDir(n) }))))];
    const leader = await waitFor('one replica to log that it sweeps', () => {
      const now = replicas.filter(sweeps);
      assert.ok(now.length <= 1, `${now.length} replicas sweep at once`);
      return now[0];
    });
    const survivors = replicas.filter((r) => r !== leader);
    t.diagnostic(`replica ${replicas.indexOf(leader) + 1} sweeps; killing it`);

    // The doomed agent and a steady one, both on a surviving replica only.
    const home = survivors[0]!;
    const doomed = await mesh.agent('doomed', home.grpcPort);
    const steady = await mesh.agent('steady', home.grpcPort);
    const svcA = await mesh.service(echoHandler('orders-doomed'));
    const svcB = await mesh.service(echoHandler('orders-steady'));
    await registerWith(doomed, { name: 'orders', port: svcA.port, id: 'orders-doomed' });
    await registerWith(steady, { name: 'orders', port: svcB.port, id: 'orders-steady' });
    for (const s of survivors)
      await waitFor('both instances at every survivor', async () => (await servicesAtControlPlane(s)).get('orders')?.length === 2);

    await leader.stop('SIGKILL');
    const next = await waitFor('a surviving replica to take the sweeper lease', () => survivors.find(sweeps), 15_000);
    t.diagnostic(`replica ${replicas.indexOf(next) + 1} took over sweeping`);
    assert.equal(survivors.filter(sweeps).length, 1, 'more than one surviving replica sweeps');

    const killedAt = Date.now();
    await doomed.stop('SIGKILL');
    // Within its lease the killed agent's instance stays (the sweep waits for the lease, not the disconnect).
    assert.deepEqual((await servicesAtControlPlane(home)).get('orders')?.sort(), ['orders-doomed', 'orders-steady']);
    for (const s of survivors)
      await waitFor(
        `the killed agent's instance gone at replica ${replicas.indexOf(s) + 1}`,
        async () => (await servicesAtControlPlane(s)).get('orders')?.join() === 'orders-steady',
        15_000,
      );
    t.diagnostic(`instance removed ${Date.now() - killedAt} ms after the agent was killed (lease TTL 2 s)`);
    // The connected agent's instance is not swept.
    for (const s of survivors) assert.deepEqual((await servicesAtControlPlane(s)).get('orders'), ['orders-steady']);
  });
});
