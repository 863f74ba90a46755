import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AgentInfo, silentLogger } from '@weft/shared';
import { ConfigView } from './config-view.js';
import { DiscoveryClient } from './discovery-client.js';
import { TestControlPlane, testEndpoint } from './test-control-plane.js';

const AGENT: AgentInfo = { agentId: 'agent-a', hostname: 'host-a', address: '10.0.0.1', inboundPort: 15006, zone: 'z1', version: 'test' };

async function setup(cpPort = 0) {
  const cp = await TestControlPlane.start(cpPort);
  const view = new ConfigView({ subscribeWaitMs: 2_000, logger: silentLogger });
  const client = new DiscoveryClient({ controlPlane: { host: '127.0.0.1', port: cp.port }, agent: AGENT, view, logger: silentLogger });
  client.start();
  await cp.waitFor(() => (cp.latest()?.requests.length ?? 0) > 0, 4_000, 'first request');
  return { cp, view, client };
}

const endpointsResource = (service: string, version: string, endpoints = [testEndpoint(`${service}-1`)]) => ({
  name: `endpoints/${service}`,
  version,
  endpoints: { service, endpoints },
});

describe('DiscoveryClient', () => {
  it('opens the stream with the agent identity, subscriptions and held versions', async () => {
    const { cp, view, client } = await setup();
    try {
      const first = cp.latest()!.requests[0];
      assert.equal(first.agent?.agent_id, 'agent-a');
      assert.equal(first.agent?.address, '10.0.0.1');
      assert.equal(first.agent?.inbound_port, 15006);
      assert.equal(first.agent?.zone, 'z1');
      assert.deepEqual(first.subscribe, []);
      assert.deepEqual(first.initial_versions, {});
      assert.equal(view.connection().connected, true);
    } finally {
      await client.close();
      await cp.stop();
    }
  });

  it('ACKs each response by its nonce and applies it', async () => {
    const { cp, view, client } = await setup();
    try {
      const nonce = cp.send({ resources: [endpointsResource('orders', 'v1')], not_found: ['endpoints/ghost'] });
      const ack = await cp.waitFor(() => cp.latest()!.requests.find((r) => r.response_nonce === nonce), 2_000, 'ACK');
      assert.deepEqual(ack.errors, []);
      assert.equal(view.get('orders')?.version, 'v1');
      assert.equal(view.get('orders')?.endpoints[0].agentAddress, '127.0.0.1');
      assert.equal(view.get('orders')?.endpoints[0].health, 'passing');
      assert.ok(view.dump().notFound.includes('ghost'));
      assert.deepEqual(cp.violations, []);
    } finally {
      await client.close();
      await cp.stop();
    }
  });

  it('NACKs an invalid resource, keeps its previous version and applies the valid ones', async () => {
    const { cp, view, client } = await setup();
    try {
      const n1 = cp.send({ resources: [endpointsResource('orders', 'v1')] });
      await cp.waitFor(() => cp.latest()!.requests.find((r) => r.response_nonce === n1), 2_000, 'ACK v1');
      const before = view.get('orders');
      const n2 = cp.send({
        resources: [
          endpointsResource('orders', 'v2', [testEndpoint('orders-1', { port: 0 })]),
          endpointsResource('billing', 'b1'),
          { name: 'endpoints/mismatch', version: 'm1', endpoints: { service: 'other', endpoints: [] } },
          { name: 'routes/orders', version: 'r1' },
        ],
      });
      const nack = await cp.waitFor(() => cp.latest()!.requests.find((r) => r.response_nonce === n2), 2_000, 'NACK');
      const byName = new Map(nack.errors.map((e) => [e.name, e]));
      assert.equal(byName.size, 3);
      assert.equal(byName.get('endpoints/orders')?.version, 'v2');
      assert.match(byName.get('endpoints/orders')?.message ?? '', /endpoints\[0\]\.port: must be 1\.\.65535/);
      assert.match(byName.get('endpoints/mismatch')?.message ?? '', /does not match/);
      assert.match(byName.get('routes/orders')?.message ?? '', /unsupported resource type/);
      assert.equal(view.get('orders'), before, 'the rejected resource keeps its previous snapshot');
      assert.equal(view.get('billing')?.version, 'b1');
      assert.equal(view.get('mismatch'), undefined);
    } finally {
      await client.close();
      await cp.stop();
    }
  });

  it('drops removed services and sends subscribe / unsubscribe on the open stream', async () => {
    const { cp, view, client } = await setup();
    try {
      const n1 = cp.send({ resources: [endpointsResource('orders', 'v1')] });
      await cp.waitFor(() => cp.latest()!.requests.find((r) => r.response_nonce === n1), 2_000, 'ACK');
      cp.send({ removed: ['endpoints/orders'] });
      await cp.waitFor(() => view.get('orders') === undefined, 2_000, 'removal');
      assert.ok(view.dump().notFound.includes('orders'));
      client.subscribe(['endpoints/x']);
      await cp.waitFor(() => cp.latest()!.requests.find((r) => r.subscribe.includes('endpoints/x')), 2_000, 'subscribe');
    } finally {
      await client.close();
      await cp.stop();
    }
  });

  it('reconnects after the control plane restarts and sends what it holds as initial_versions', async () => {
    const { cp, view, client } = await setup();
    let cp2: TestControlPlane | undefined;
    try {
      const n1 = cp.send({ resources: [endpointsResource('orders', 'v7')], not_found: ['endpoints/ghost'] });
      await cp.waitFor(() => cp.latest()!.requests.find((r) => r.response_nonce === n1), 2_000, 'ACK');
      await cp.stop();
      await cp.waitFor(() => !client.isConnected(), 4_000, 'disconnect');
      // While disconnected the agent keeps what it had.
      assert.equal(view.get('orders')?.version, 'v7');
      cp2 = await TestControlPlane.start(cp.port);
      const server = cp2;
      const first = await server.waitFor(() => server.latest()?.requests[0], 8_000, 'first request after restart');
      assert.equal(first.agent?.agent_id, 'agent-a');
      assert.deepEqual(first.initial_versions, { 'endpoints/orders': 'v7' });
      assert.deepEqual([...first.subscribe].sort(), ['endpoints/ghost', 'endpoints/orders']);
      await server.waitFor(() => client.isConnected(), 2_000, 'connected');
      assert.ok(view.connection().lastConnectedAt);
      const n2 = server.send({ resources: [endpointsResource('orders', 'v8')] });
      await server.waitFor(() => server.latest()!.requests.find((r) => r.response_nonce === n2), 2_000, 'ACK after restart');
      assert.equal(view.get('orders')?.version, 'v8');
    } finally {
      await client.close();
      await cp.stop();
      await cp2?.stop();
    }
  });

  it('keeps retrying while the control plane is unreachable and connects when it appears', async () => {
    const probe = await TestControlPlane.start();
    const port = probe.port;
    await probe.stop();
    const view = new ConfigView({ subscribeWaitMs: 2_000, logger: silentLogger });
    const client = new DiscoveryClient({ controlPlane: { host: '127.0.0.1', port }, agent: AGENT, view, logger: silentLogger });
    client.start();
    let cp: TestControlPlane | undefined;
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(client.isConnected(), false);
      assert.ok(view.connection().lastError);
      cp = await TestControlPlane.start(port);
      const server = cp;
      await server.waitFor(() => server.latest()?.requests[0], 8_000, 'first request');
      assert.equal(client.isConnected(), true);
    } finally {
      await client.close();
      await cp?.stop();
    }
  });
});
