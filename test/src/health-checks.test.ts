import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AgentProc, echoHandler, Mesh, registerWith, viaProxy, waitFor } from './harness.js';

describe('active health checks', () => {
  const mesh = new Mesh();
  let a: AgentProc;
  let sickOrders1 = false;

  before(async () => {
    const cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
    const b = await mesh.agent('agent-b', cp.grpcPort);
    const echo1 = echoHandler('orders-1');
    const one = await mesh.service((req, res) => {
      if (req.url === '/healthz') {
        res.statusCode = sickOrders1 ? 500 : 200;
        return void res.end(sickOrders1 ? 'sick' : 'ok');
      }
      echo1(req, res);
    });
    const echo2 = echoHandler('orders-2');
    const two = await mesh.service((req, res) => (req.url === '/healthz' ? res.end('ok') : echo2(req, res)));
    const health = { http: '/healthz', interval: '200ms' };
    await registerWith(b, { name: 'orders', port: one.port, id: 'orders-1', health });
    await registerWith(b, { name: 'orders', port: two.port, id: 'orders-2', health });
  });
  after(() => mesh.close());

  const served = async (n: number) => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await viaProxy(a.outboundPort, 'http://orders/');
      assert.equal(r.status, 200, `request failed: ${r.headers['x-weft-error']} ${r.body}`);
      seen.add(String(r.headers['x-served-by']));
    }
    return seen;
  };

  test('a failing instance is not picked, and is picked again once it recovers', async () => {
    await waitFor('both instances to be healthy and picked', async () => (await served(20)).size === 2);
    sickOrders1 = true;
    await waitFor('orders-1 to be taken out', async () => {
      const seen = await served(30);
      return seen.size === 1 && seen.has('orders-2');
    });
    // Stays out while it keeps failing.
    assert.deepEqual([...(await served(50))], ['orders-2']);
    sickOrders1 = false;
    await waitFor('orders-1 to be picked again', async () => (await served(20)).has('orders-1'));
  });
});
