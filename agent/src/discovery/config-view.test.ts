import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AgentInfo, MeshError, silentLogger } from '@weft/shared';
import { ConfigView } from './config-view.js';
import { DiscoveryClient } from './discovery-client.js';
import { TestControlPlane, testEndpoint } from './test-control-plane.js';

const AGENT: AgentInfo = { agentId: 'agent-a', hostname: 'host-a', address: '127.0.0.1', inboundPort: 15006, zone: '', version: 'test' };

async function connected(subscribeWaitMs = 2_000) {
  const cp = await TestControlPlane.start();
  const view = new ConfigView({ subscribeWaitMs, logger: silentLogger });
  const client = new DiscoveryClient({ controlPlane: { host: '127.0.0.1', port: cp.port }, agent: AGENT, view, logger: silentLogger });
  client.start();
  await cp.waitFor(() => client.isConnected() && (cp.latest()?.requests.length ?? 0) > 0, 4_000, 'first request');
  return {
    cp,
    view,
    client,
    close: async () => {
      view.close();
      await client.close();
      await cp.stop();
    },
  };
}

function subscribeRequests(cp: TestControlPlane, name: string) {
  return cp.streams.flatMap((s) => s.requests).filter((r) => r.subscribe.includes(name));
}

async function rejection(p: unknown): Promise<MeshError> {
  assert.ok(p instanceof Promise, 'expected a promise');
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MeshError, `expected MeshError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('ConfigView.resolve', () => {
  let env: Awaited<ReturnType<typeof connected>>;
  before(async () => {
    env = await connected();
    env.cp.autoAnswer = true;
    env.cp.services.set('orders', { version: 'v1', endpoints: [testEndpoint('orders-1')] });
  });
  after(() => env.close());

  it('subscribes on first use, waits for the answer, then answers synchronously', async () => {
    const first = env.view.resolve('orders');
    assert.ok(first instanceof Promise);
    const snap = await first;
    assert.equal(snap.version, 'v1');
    assert.deepEqual(
      snap.endpoints.map((e) => e.instanceId),
      ['orders-1'],
    );
    const second = env.view.resolve('orders');
    assert.ok(!(second instanceof Promise), 'a known service must resolve synchronously');
    assert.equal(second, snap);
    assert.equal(subscribeRequests(env.cp, 'endpoints/orders').length, 1);
  });

  it('concurrent first requests share one subscription and one wait', async () => {
    env.cp.services.set('billing', { version: 'b1', endpoints: [testEndpoint('billing-1')] });
    const [a, b, c] = await Promise.all([env.view.resolve('billing'), env.view.resolve('billing'), env.view.resolve('billing')]);
    assert.equal(a, b);
    assert.equal(b, c);
    assert.equal(subscribeRequests(env.cp, 'endpoints/billing').length, 1);
  });

  it('rejects with unknown_service when the control plane says not found, and stays subscribed', async () => {
    const err = await rejection(env.view.resolve('ghost'));
    assert.equal(err.code, 'unknown_service');
    assert.match(err.message, /service "ghost" is not registered in the mesh/);
    // Known-not-found answers at once, without asking again.
    assert.equal((await rejection(env.view.resolve('ghost'))).code, 'unknown_service');
    assert.equal(subscribeRequests(env.cp, 'endpoints/ghost').length, 1);
    assert.ok(env.view.subscriptions().includes('endpoints/ghost'));
    // Registered later: the pushed resource is what the next request sees.
    env.cp.send({
      resources: [{ name: 'endpoints/ghost', version: 'g1', endpoints: { service: 'ghost', endpoints: [testEndpoint('ghost-1')] } }],
    });
    await env.cp.waitFor(() => env.view.get('ghost'), 2_000, 'ghost applied');
    const snap = env.view.resolve('ghost');
    assert.ok(!(snap instanceof Promise));
    assert.equal(snap.version, 'g1');
  });

  it('rejects invalid service names without subscribing', async () => {
    const err = await rejection(env.view.resolve('Not_A_Name'));
    assert.equal(err.code, 'unknown_service');
    assert.equal(subscribeRequests(env.cp, 'endpoints/Not_A_Name').length, 0);
  });

  it('dumps versions, endpoints, subscriptions and connection state', () => {
    const dump = env.view.dump();
    assert.equal(dump.services.orders.version, 'v1');
    assert.ok(dump.subscriptions.includes('endpoints/orders'));
    assert.ok(dump.notFound.length === 0 || !dump.notFound.includes('orders'));
    assert.equal(dump.connection.connected, true);
    assert.ok(dump.connection.responsesReceived >= 1);
  });
});

describe('ConfigView.resolve without an answer', () => {
  it('times out with control_plane_unavailable when the control plane does not answer', async () => {
    const env = await connected(150);
    try {
      const err = await rejection(env.view.resolve('slow'));
      assert.equal(err.code, 'control_plane_unavailable');
      assert.match(err.message, /did not answer/);
      // A late answer still fills the view.
      env.cp.send({
        resources: [{ name: 'endpoints/slow', version: 's1', endpoints: { service: 'slow', endpoints: [testEndpoint('slow-1')] } }],
      });
      await env.cp.waitFor(() => env.view.get('slow'), 2_000, 'late answer');
    } finally {
      await env.close();
    }
  });

  it('rejects at once with control_plane_unavailable while disconnected, and keeps serving what it holds', async () => {
    const env = await connected();
    try {
      env.cp.send({
        resources: [{ name: 'endpoints/orders', version: 'v1', endpoints: { service: 'orders', endpoints: [testEndpoint('orders-1')] } }],
      });
      await env.cp.waitFor(() => env.view.get('orders'), 2_000, 'orders applied');
      await env.cp.stop();
      await env.cp.waitFor(() => !env.client.isConnected() || undefined, 4_000, 'disconnect');
      const started = Date.now();
      const err = await rejection(env.view.resolve('payments'));
      assert.equal(err.code, 'control_plane_unavailable');
      assert.ok(Date.now() - started < 1_000, 'must not wait while disconnected');
      const held = env.view.resolve('orders');
      assert.ok(!(held instanceof Promise));
      assert.equal(held.version, 'v1');
      assert.equal(env.view.connection().connected, false);
    } finally {
      await env.close();
    }
  });
});
