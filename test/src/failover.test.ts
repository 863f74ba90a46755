import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AgentProc, echoHandler, Mesh, registerWith, type TestService, viaProxy, waitFor } from './harness.js';

async function servedBy(a: AgentProc, n: number): Promise<{ counts: Map<string, number>; failures: string[] }> {
  const counts = new Map<string, number>();
  const failures: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await viaProxy(a.outboundPort, 'http://orders/');
    if (r.status === 200) {
      const who = String(r.headers['x-served-by']);
      counts.set(who, (counts.get(who) ?? 0) + 1);
    } else failures.push(`${r.status} ${r.headers['x-weft-error']}: ${r.body}`);
  }
  return { counts, failures };
}

describe('two instances of a service', () => {
  const mesh = new Mesh();
  let a: AgentProc;
  let first: TestService;

  before(async () => {
    const cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
    const b = await mesh.agent('agent-b', cp.grpcPort);
    const c = await mesh.agent('agent-c', cp.grpcPort);
    first = await mesh.service(echoHandler('orders-1'));
    const second = await mesh.service(echoHandler('orders-2'));
    await registerWith(b, { name: 'orders', port: first.port, id: 'orders-1' });
    await registerWith(c, { name: 'orders', port: second.port, id: 'orders-2' });
    await waitFor('both instances to be visible', async () => (await servedBy(a, 20)).counts.size === 2);
  });
  after(() => mesh.close());

  test('both instances receive traffic', async () => {
    const { counts, failures } = await servedBy(a, 100);
    assert.deepEqual(failures, []);
    assert.ok((counts.get('orders-1') ?? 0) >= 20, `orders-1 got ${counts.get('orders-1')}`);
    assert.ok((counts.get('orders-2') ?? 0) >= 20, `orders-2 got ${counts.get('orders-2')}`);
  });

  test('when one instance dies, traffic continues on the other with no client-visible error', async () => {
    await first.kill();
    const { counts, failures } = await servedBy(a, 100);
    assert.deepEqual(failures, [], 'failed requests after the instance died');
    assert.equal(counts.get('orders-2'), 100);
  });
});
