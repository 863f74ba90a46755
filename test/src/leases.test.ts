import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { echoHandler, Mesh, registerWith, servicesAtControlPlane, viaProxy, waitFor } from './harness.js';

test('an agent killed with SIGKILL: its instances disappear from the others within the lease TTL', async () => {
  const mesh = new Mesh();
  after(() => mesh.close());
  const cp = await mesh.controlPlane({ leaseTtl: '2s' });
  const a = await mesh.agent('agent-a', cp.grpcPort);
  const b = await mesh.agent('agent-b', cp.grpcPort);
  const svc = await mesh.service(echoHandler('orders-1'));
  await registerWith(b, { name: 'orders', port: svc.port, id: 'orders-1' });
  await waitFor('orders to be routable from agent A', async () => (await viaProxy(a.outboundPort, 'http://orders/')).status === 200);

  const killedAt = Date.now();
  await b.stop('SIGKILL');
  await waitFor('the control plane to drop orders-1', async () => !(await servicesAtControlPlane(cp)).has('orders'), 10_000);
  const gone = Date.now() - killedAt;
  // TTL 2 s, plus one lease sweep and the time to notice the stream closed.
  assert.ok(gone <= 2000 + 2000, `instances removed after ${gone} ms`);
  assert.ok(gone >= 1500, `instances removed after ${gone} ms, before the lease TTL`);

  await waitFor(
    'agent A to stop routing to it',
    async () => {
      const r = await viaProxy(a.outboundPort, 'http://orders/');
      return r.status === 404 && r.headers['x-weft-error'] === 'unknown_service';
    },
    5000,
  );
});

test('an agent stopped with SIGTERM deregisters its instances at once', async () => {
  const mesh = new Mesh();
  after(() => mesh.close());
  const cp = await mesh.controlPlane({ leaseTtl: '30s' });
  const b = await mesh.agent('agent-b', cp.grpcPort);
  const svc = await mesh.service(echoHandler('orders-1'));
  await registerWith(b, { name: 'orders', port: svc.port, id: 'orders-1' });
  await waitFor('orders at the control plane', async () => (await servicesAtControlPlane(cp)).has('orders'));
  assert.equal(await b.stop('SIGTERM'), 0, 'the agent exits cleanly');
  // Far below the 30 s lease TTL: the agent said goodbye.
  await waitFor('orders to be deregistered', async () => !(await servicesAtControlPlane(cp)).has('orders'), 3000);
});
