/**
 * Three control-plane replicas (real processes) on one PostgreSQL schema: a
 * service registered through an agent on replica 1 reaches, and is served
 * through, an agent on replica 3; an operator token works on every replica,
 * and a token revoked through one replica is refused by the others.
 * Skipped with the reason printed when no PostgreSQL answers (see
 * control-plane/src/pg-test-support.ts).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freshSchema, postgresSkipReason } from '@weft/control-plane/pg-test-support';
import { echoHandler, getJson, Mesh, registerWith, runWeft, send, servicesAtControlPlane, viaProxy, waitFor } from './harness.js';

const skip = await postgresSkipReason();

describe('control-plane replicas on PostgreSQL (real processes)', { skip }, () => {
  test('a change through replica 1 reaches an agent on replica 3', async () => {
    const schema = await freshSchema();
    after(() => schema.drop());
    const mesh = new Mesh();
    after(() => mesh.close());
    const store = ['--store', schema.url];
    const first = await mesh.controlPlane({ extra: store });
    // Replicas share the mesh CA and the operator's bootstrap token: copied from the first one's data dir.
    const replicaDir = (n: number) => {
      const dir = join(mesh.dir, `replica-${n}`);
      mkdirSync(dir, { recursive: true });
      cpSync(join(first.dataDir, 'ca'), join(dir, 'ca'), { recursive: true });
      cpSync(join(first.dataDir, 'operator.token'), join(dir, 'operator.token'));
      return dir;
    };
    const [, third] = await Promise.all([
      mesh.controlPlane({ dataDir: replicaDir(2), extra: store }),
      mesh.controlPlane({ dataDir: replicaDir(3), extra: store }),
    ]);

    const provider = await mesh.agent('provider', first.grpcPort);
    const consumer = await mesh.agent('consumer', third.grpcPort);
    const orders = await mesh.service(echoHandler('orders-1'));
    await registerWith(provider, { name: 'orders', port: orders.port, id: 'orders-1' });

    await waitFor(
      'replica 3 to know orders',
      async () => (await servicesAtControlPlane(third)).get('orders')?.includes('orders-1'),
      10_000,
    );
    await waitFor('orders to be served through the agent on replica 3', async () => {
      const r = await viaProxy(consumer.outboundPort, 'http://orders/');
      return r.status === 200 && r.headers['x-served-by'] === 'orders-1';
    });
    // Each replica lists the agents whose streams it holds as connected.
    const onThird = await getJson<{ agents: { agentId: string; connected: boolean }[] }>(third.httpPort, '/v1/agents');
    assert.ok(onThird.agents.some((a) => a.agentId === 'consumer' && a.connected));

    // A token made and revoked through replica 1 is taken, then refused, by replica 3 (which re-reads tokens on a timer).
    const reader = await mesh.createToken(first.grpcPort, { kind: 'read' });
    const readAt = async (port: number) =>
      (await send({ port, path: '/v1/services', headers: { authorization: `Bearer ${reader}` } })).status;
    assert.equal(await readAt(third.httpPort), 200);
    // Over gRPC too, at once (the CLI's ListServices on replica 3 with the new token).
    const listed = await runWeft(['--token', reader, 'services', '--control-plane', `127.0.0.1:${third.grpcPort}`]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /orders/);
    const revoked = await runWeft(['token', 'revoke', reader.split('.')[2], '--control-plane', `127.0.0.1:${first.grpcPort}`]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(await readAt(first.httpPort), 401, 'refused at once on the replica that revoked it');
    await waitFor('replica 3 to refuse the revoked token', async () => (await readAt(third.httpPort)) === 401, 10_000);
  });
});
