import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AgentInfo, silentLogger } from '@weft/shared';
import { ConfigView } from './config-view.js';
import { controlPlaneTarget, parseControlPlaneAddresses, preferenceOrder } from './control-plane-addresses.js';
import { DiscoveryClient } from './discovery-client.js';
import { RegistrationSync } from './registration-sync.js';
import { TestControlPlane } from './test-control-plane.js';

const AGENT: AgentInfo = { agentId: 'agent-a', hostname: 'host-a', address: '10.0.0.1', inboundPort: 15006, zone: '', version: 'test' };

/** A port nothing listens on (bound by a control plane that is then stopped). */
async function deadPort(): Promise<number> {
  const probe = await TestControlPlane.start();
  await probe.stop();
  return probe.port;
}

function client(controlPlane: { host: string; port: number }[]) {
  const view = new ConfigView({ subscribeWaitMs: 2_000, logger: silentLogger });
  const discovery = new DiscoveryClient({ controlPlane, agent: AGENT, view, logger: silentLogger, backoff: { baseMs: 50, maxMs: 500 } });
  discovery.start();
  return discovery;
}

const streamsOn = (cp: TestControlPlane) => cp.streams.filter((s) => !s.ended).length;

describe('control plane addresses', () => {
  it('parses a list of replicas and names the bad entry', () => {
    assert.deepEqual(parseControlPlaneAddresses('a:15010, 10.0.0.2:15010,[::1]:15010', '--control-plane'), [
      { host: 'a', port: 15010 },
      { host: '10.0.0.2', port: 15010 },
      { host: '::1', port: 15010 },
    ]);
    assert.throws(() => parseControlPlaneAddresses('a:1,,b:2', '--control-plane'), /--control-plane\[1\]: empty address/);
    assert.throws(() => parseControlPlaneAddresses('a:1,b', '--control-plane'), /--control-plane\[1\]: expected HOST:PORT/);
    assert.throws(() => parseControlPlaneAddresses('a:1,a:1', '--control-plane'), /--control-plane\[1\]: a:1 is listed twice/);
    assert.throws(() => parseControlPlaneAddresses('a:70000', '--control-plane'), /--control-plane/);
  });

  it('dials a single IP directly and resolves names and lists itself', () => {
    assert.equal(controlPlaneTarget({ host: '127.0.0.1', port: 1 }), '127.0.0.1:1');
    assert.equal(controlPlaneTarget([{ host: '::1', port: 1 }]), '[::1]:1');
    assert.equal(controlPlaneTarget({ host: 'cp.internal', port: 1 }), 'weft-cp:///cp.internal:1');
    assert.equal(
      controlPlaneTarget([
        { host: 'a', port: 1 },
        { host: '[::1]', port: 2 },
      ]),
      'weft-cp:///a:1,[::1]:2',
    );
  });

  it('orders the addresses the same way every time in one process', () => {
    const items = Array.from({ length: 8 }, (_, i) => `10.0.0.${i}:15010`);
    const first = preferenceOrder(items, (x) => x);
    assert.deepEqual([...first].sort(), [...items].sort());
    assert.deepEqual(
      preferenceOrder([...items].reverse(), (x) => x),
      first,
    );
  });

  it('connects to a replica that answers, skipping one that does not, and moves to the other when its replica dies', async () => {
    const dead = await deadPort();
    const one = await TestControlPlane.start();
    const two = await TestControlPlane.start();
    const discovery = client([
      { host: '127.0.0.1', port: dead },
      { host: '127.0.0.1', port: one.port },
      { host: '127.0.0.1', port: two.port },
    ]);
    try {
      await one.waitFor(() => streamsOn(one) + streamsOn(two) === 1, 5_000, 'a stream on one of the replicas');
      const [holder, other] = streamsOn(one) === 1 ? [one, two] : [two, one];
      await holder.stop();
      await other.waitFor(() => other.latest()?.requests[0], 10_000, 'the stream to move to the other replica');
      assert.equal(other.latest()?.requests[0]?.agent?.agent_id, 'agent-a');
      assert.equal(streamsOn(other), 1);
      assert.equal(discovery.isConnected(), true);
    } finally {
      await discovery.close();
      await one.stop();
      await two.stop();
    }
  });

  it("an agent's registrations go to the replica holding its stream", async () => {
    const one = await TestControlPlane.start();
    const two = await TestControlPlane.start();
    const three = await TestControlPlane.start();
    const cps = [one, two, three];
    const list = cps.map((cp) => ({ host: '127.0.0.1', port: cp.port }));
    const discovery = client(list);
    const sync = new RegistrationSync({
      controlPlane: list,
      agent: AGENT,
      source: { instances: () => [], markSynced: () => {} },
      logger: silentLogger,
      isConnected: () => discovery.isConnected(),
    });
    try {
      await one.waitFor(() => cps.some((cp) => streamsOn(cp) === 1), 5_000, 'a stream');
      assert.equal(await sync.fullSync(), true);
      const holder = cps.find((cp) => streamsOn(cp) === 1);
      assert.deepEqual(
        cps.map((cp) => cp.registerCalls.length),
        cps.map((cp) => (cp === holder ? 1 : 0)),
      );
    } finally {
      await sync.close(false);
      await discovery.close();
      for (const cp of cps) await cp.stop();
    }
  });

  it('resolves a DNS name to its addresses', async () => {
    const cp = await TestControlPlane.start();
    const discovery = client([{ host: 'localhost', port: cp.port }]);
    try {
      await cp.waitFor(() => streamsOn(cp) === 1, 5_000, 'a stream through localhost');
    } finally {
      await discovery.close();
      await cp.stop();
    }
  });
});
