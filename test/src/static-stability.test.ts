/**
 * Static stability across an agent restart: an agent that starts while the
 * control plane is unreachable serves the services it knew from its persisted
 * snapshot, and says so on /ready and /config; and it presents the service
 * certificates it stored, so access decided on them does not change.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { echoHandler, getJson, Mesh, registerWith, viaProxy, waitFor } from './harness.js';

test('an agent started with the control plane down routes known services from its persisted snapshot', async () => {
  const mesh = new Mesh();
  after(() => mesh.close());
  const cp = await mesh.controlPlane({ leaseTtl: '30s' });
  const a = await mesh.agent('agent-a', cp.grpcPort);
  // B hosts the instance and stays up all along: the endpoint A routes to after
  // its restart can only come from A's snapshot, since nothing else is there.
  const b = await mesh.agent('agent-b', cp.grpcPort);
  const svc = await mesh.service(echoHandler('orders-1'));
  await registerWith(b, { name: 'orders', port: svc.port, id: 'orders-1' });
  await waitFor('orders to be routable', async () => (await viaProxy(a.outboundPort, 'http://orders/')).status === 200);
  const before = await getJson<{ connection: { source: string } }>(a.adminPort, '/config');
  assert.equal(before.connection.source, 'control-plane');

  // Stop A (it persists what it accepted) and the control plane; start only A again.
  await a.stop('SIGTERM');
  await cp.stop('SIGKILL');
  const hits = svc.hits;
  const a2 = await mesh.agent('agent-a', cp.grpcPort);

  const ready = await getJson<{ ready: boolean; connected: boolean; source: string }>(a2.adminPort, '/ready');
  assert.deepEqual([ready.ready, ready.connected, ready.source], [true, false, 'snapshot']);
  const config = await getJson<{ connection: { source: string; connected: boolean }; services: Record<string, { endpoints: unknown[] }> }>(
    a2.adminPort,
    '/config',
  );
  assert.equal(config.connection.source, 'snapshot');
  assert.equal(config.services.orders?.endpoints.length, 1);

  for (let i = 0; i < 5; i++) {
    const r = await viaProxy(a2.outboundPort, 'http://orders/');
    assert.equal(r.status, 200, `request ${i}: ${r.headers['x-weft-error']} ${r.body}`);
    assert.equal(r.headers['x-served-by'], 'orders-1');
  }
  assert.equal(svc.hits, hits + 5, 'the requests reached the instance on agent B');
  // A service the snapshot does not know cannot be resolved without the control plane.
  const unknown = await viaProxy(a2.outboundPort, 'http://payments/');
  assert.equal(unknown.status, 503);
  assert.equal(unknown.headers['x-weft-error'], 'control_plane_unavailable');
});

test('an agent restarted with the control plane down presents the service certificates it stored (same serial, key 0600)', async () => {
  const mesh = new Mesh();
  after(() => mesh.close());
  const cp = await mesh.controlPlane({ leaseTtl: '30s' });
  const b = await mesh.agent('agent-b', cp.grpcPort);
  const svc = await mesh.service(echoHandler('orders-1'));
  await registerWith(b, { name: 'orders', port: svc.port, id: 'orders-1' });
  const held = () =>
    getJson<{ services: { service: string; state: string; certificate?: { serial: string; spiffeId: string } }[] }>(
      b.adminPort,
      '/v1/certificates',
    );
  const issued = await waitFor('orders certificate issued', async () => (await held()).services.find((s) => s.state === 'issued'));
  const serial = issued.certificate?.serial;
  assert.ok(serial);
  const dir = join(mesh.dir, 'agent-b', 'identity', 'services');
  assert.equal(statSync(join(dir, 'orders.key')).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);

  await b.stop('SIGTERM');
  await cp.stop('SIGKILL');
  const b2 = await mesh.agent('agent-b', cp.grpcPort);
  const after2 = await getJson<{ services: { service: string; state: string; certificate?: { serial: string } }[] }>(
    b2.adminPort,
    '/v1/certificates',
  );
  assert.deepEqual(
    after2.services.map((s) => [s.service, s.state, s.certificate?.serial]),
    [['orders', 'issued', serial]],
  );
  // On the wire: a peer asking for orders (SNI) gets the stored certificate, not the agent's.
  const presented = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port: b2.inboundPort,
      servername: 'orders',
      ...mesh.meshTls('agent-b'),
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined,
    });
    s.once('secureConnect', () => {
      const cert = s.getPeerX509Certificate();
      resolve(`${cert?.serialNumber.toUpperCase()} ${cert?.subjectAltName}`);
      s.destroy();
    });
    s.once('error', reject);
  });
  assert.equal(presented, `${serial} URI:spiffe://weft.local/svc/orders`);
  assert.ok(b2.logLines.some((l) => l.includes('"service certificate restored"')));
});
