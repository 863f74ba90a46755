import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { echoHandler, getJson, Mesh, registerWith, servicesAtControlPlane, viaProxy, waitFor } from './harness.js';

describe('control plane restarts and outages', () => {
  test('a restart keeps every registration, agents reconnect, and traffic never stops', async () => {
    const mesh = new Mesh();
    after(() => mesh.close());
    const cp = await mesh.controlPlane({ leaseTtl: '3s', restartGrace: '20s' });
    const a = await mesh.agent('agent-a', cp.grpcPort);
    const b = await mesh.agent('agent-b', cp.grpcPort);
    const svc = await mesh.service(echoHandler('orders-1'));
    await registerWith(b, { name: 'orders', port: svc.port, id: 'orders-1' });
    await waitFor('orders to be routable', async () => (await viaProxy(a.outboundPort, 'http://orders/')).status === 200);

    // Keep calling orders through the whole restart.
    let running = true;
    const outcomes: string[] = [];
    const traffic = (async () => {
      while (running) {
        const r = await viaProxy(a.outboundPort, 'http://orders/').catch((e: Error) => ({
          status: 0,
          headers: {},
          body: Buffer.from(e.message),
        }));
        outcomes.push(r.status === 200 ? 'ok' : `${r.status} ${'x-weft-error' in r.headers ? r.headers['x-weft-error'] : ''} ${r.body}`);
        await new Promise((res) => setTimeout(res, 20));
      }
    })();

    await cp.stop('SIGTERM');
    await new Promise((res) => setTimeout(res, 1000));
    const cp2 = await mesh.controlPlane({ grpcPort: cp.grpcPort, dataDir: cp.dataDir, leaseTtl: '3s', restartGrace: '20s' });
    assert.deepEqual((await servicesAtControlPlane(cp2)).get('orders'), ['orders-1'], 'registrations survive the restart');
    await waitFor('both agents to reconnect', async () => {
      const agents = await getJson<{ agents: { agentId: string; connected: boolean }[] }>(cp2.httpPort, '/v1/agents');
      return agents.agents.filter((x) => x.connected).length === 2;
    });
    // Past the old lease TTL: nothing was dropped.
    await new Promise((res) => setTimeout(res, 3500));
    assert.deepEqual((await servicesAtControlPlane(cp2)).get('orders'), ['orders-1']);
    running = false;
    await traffic;
    assert.ok(outcomes.length > 50, `only ${outcomes.length} requests were made`);
    assert.deepEqual(
      outcomes.filter((o) => o !== 'ok'),
      [],
      'requests failed during the restart',
    );
  });

  test('with the control plane down, agents keep serving known services; a new service answers control_plane_unavailable', async () => {
    const mesh = new Mesh();
    after(() => mesh.close());
    const cp = await mesh.controlPlane();
    const a = await mesh.agent('agent-a', cp.grpcPort);
    const b = await mesh.agent('agent-b', cp.grpcPort);
    const svc = await mesh.service(echoHandler('orders-1'));
    await registerWith(b, { name: 'orders', port: svc.port, id: 'orders-1' });
    await waitFor('orders to be routable', async () => (await viaProxy(a.outboundPort, 'http://orders/')).status === 200);

    await cp.stop('SIGKILL');
    for (let i = 0; i < 50; i++) {
      const r = await viaProxy(a.outboundPort, 'http://orders/');
      assert.equal(r.status, 200, `request ${i} failed with the control plane down: ${r.headers['x-weft-error']} ${r.body}`);
    }
    const r = await viaProxy(a.outboundPort, 'http://payments/');
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-weft-error'], 'control_plane_unavailable');
    assert.match(r.body.toString(), /control plane/i);
    // Static stability: still ready (it serves what it holds), and says the control plane is gone.
    const ready = await getJson<{ ready: boolean; connected: boolean }>(a.adminPort, '/ready');
    assert.equal(ready.ready, true);
    assert.equal(ready.connected, false, '/ready says the control plane is not connected');
  });
});
