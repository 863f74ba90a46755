/**
 * An agent given several control-plane addresses moves to another when its
 * control plane goes, and traffic through it never fails meanwhile. The two
 * control planes are SQLite ones on one data dir (the second started once the
 * first is killed, as the data dir is locked); the PostgreSQL replicas share
 * the same agent-side path.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { echoHandler, getJson, Mesh, registerWith, servicesAtControlPlane, viaProxy, waitFor } from './harness.js';
import { SteadyLoad } from './harness-faults.js';

/** A port that accepts TCP and hangs up at once: a replica that is there but broken, until close() frees the port. */
async function brokenReplica(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

interface AgentsView {
  agents: { agentId: string; connected: boolean }[];
}

describe('agents with several control-plane addresses', () => {
  test('when their control plane is killed, agents move to the other within 10 s and no request fails', async (t) => {
    const mesh = new Mesh();
    after(() => mesh.close());
    const broken = await brokenReplica();
    after(() => broken.close());
    const first = await mesh.controlPlane({ leaseTtl: '5s', restartGrace: '30s' });
    const both = ['--control-plane', `127.0.0.1:${first.grpcPort},127.0.0.1:${broken.port}`];
    const a = await mesh.agent('agent-a', first.grpcPort, both);
    const b = await mesh.agent('agent-b', first.grpcPort, both);
    const orders1 = await mesh.service(echoHandler('orders-1'));
    await registerWith(b, { name: 'orders', port: orders1.port, id: 'orders-1' });
    await waitFor('orders to be routable', async () => (await viaProxy(a.outboundPort, 'http://orders/')).status === 200);
    await waitFor('both agents on the first control plane', async () => {
      const v = await getJson<AgentsView>(first.httpPort, '/v1/agents');
      return v.agents.filter((x) => x.connected).length === 2;
    });

    const load = new SteadyLoad(a, 'http://orders/', 2, 10);
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    await first.stop('SIGKILL');
    // The second address becomes a real control plane on the same data dir (same CA, same registrations).
    await broken.close();
    const second = await mesh.controlPlane({ grpcPort: broken.port, dataDir: first.dataDir, leaseTtl: '5s', restartGrace: '30s' });
    await waitFor(
      'both agents on the second control plane',
      async () => {
        const v = await getJson<AgentsView>(second.httpPort, '/v1/agents');
        return v.agents.filter((x) => x.connected).length === 2;
      },
      10_000,
      50,
    );
    const movedInMs = Date.now() - killedAt;
    assert.ok(movedInMs < 10_000, `agents took ${movedInMs} ms to reconnect`);
    t.diagnostic(`both agents reconnected ${movedInMs} ms after the kill (second control plane start included)`);

    // The new control plane is live for both agents: a new instance registered through b reaches a.
    const orders2 = await mesh.service(echoHandler('orders-2'));
    await registerWith(b, { name: 'orders', port: orders2.port, id: 'orders-2' });
    await waitFor('orders-2 to serve through a', async () => {
      for (let i = 0; i < 10; i++) {
        const r = await viaProxy(a.outboundPort, 'http://orders/');
        if (r.headers['x-served-by'] === 'orders-2') return true;
      }
      return false;
    });
    // Leases intact: past the lease TTL, the instance registered before the failover is still there.
    await new Promise((r) => setTimeout(r, 5_500));
    assert.deepEqual((await servicesAtControlPlane(second)).get('orders')?.sort(), ['orders-1', 'orders-2']);
    const report = await load.stop();
    assert.deepEqual(report.failures, [], 'proxied requests failed during the failover');
    assert.ok(report.ok > 50, `only ${report.ok} requests were made`);
    const ready = await getJson<{ connected: boolean }>(a.adminPort, '/ready');
    assert.equal(ready.connected, true);
  });

  test('the agent refuses a malformed address list, naming the entry', async () => {
    const mesh = new Mesh();
    after(() => mesh.close());
    await assert.rejects(
      mesh.agent('agent-x', 1, ['--control-plane', '127.0.0.1:1,,127.0.0.1:2', '--insecure']),
      /--control-plane\[1\]: empty address/,
    );
  });
});
