import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AgentInfo, canonicalIp, parseAddressAllowance, silentLogger, ValidationError } from '@weft/shared';
import { ConfigView } from '../discovery/config-view.js';
import { RegistrationSync } from '../discovery/registration-sync.js';
import { TestControlPlane } from '../discovery/test-control-plane.js';
import { type AdminServer, type AdminServerOptions, startAdminServer } from './admin-server.js';
import { LocalRegistry } from './local-registry.js';
import { LocalServices } from './local-services.js';
import { RegistrationTargets } from './registration-target.js';

const AGENT: AgentInfo = { agentId: 'agent-r', hostname: 'host-r', address: '192.0.2.10', inboundPort: 15006, zone: '', version: 'test' };
/** This host's addresses in these tests (besides loopback): injected, so the tests do not depend on the machine's interfaces. */
const HOST = ['192.0.2.10', 'fd00::10'];
const OUTBOUND = 25001;
const INBOUND = 25006;

async function startAgentAdmin(cpPort: number, extra: Partial<AdminServerOptions> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'weft-registration-target-'));
  const registry = new LocalRegistry(dir, silentLogger);
  const sync = new RegistrationSync({
    controlPlane: { host: '127.0.0.1', port: cpPort },
    agent: AGENT,
    source: registry,
    logger: silentLogger,
    isConnected: () => true,
    rpcTimeoutMs: 1_000,
  });
  const services = new LocalServices({ agentId: AGENT.agentId, zone: '', registry, sync, logger: silentLogger });
  const admin: AdminServer = await startAdminServer({
    port: 0,
    agentId: AGENT.agentId,
    services,
    view: new ConfigView({ subscribeWaitMs: 500, logger: silentLogger }),
    logger: silentLogger,
    listenersUp: () => true,
    proxyPorts: { outbound: OUTBOUND, inbound: INBOUND },
    hostAddresses: () => HOST,
    ...extra,
  });
  const register = async (body: Record<string, unknown>) => {
    const res = await fetch(`http://127.0.0.1:${admin.port}/v1/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  return {
    admin,
    registry,
    register,
    close: async () => {
      services.close();
      await sync.close(false);
      await registry.flush();
      await admin.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('registration targets through the admin API', () => {
  let cp: TestControlPlane;
  let agent: Awaited<ReturnType<typeof startAgentAdmin>>;
  before(async () => {
    cp = await TestControlPlane.start();
    agent = await startAgentAdmin(cp.port);
  });
  after(async () => {
    await agent.close();
    await cp.stop();
  });

  it("refuses a registration at the agent's admin, outbound or inbound port on any local address, naming port", async () => {
    const ports = [
      ['admin', agent.admin.port],
      ['outbound', OUTBOUND],
      ['inbound', INBOUND],
    ] as const;
    for (const [name, port] of ports) {
      for (const address of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '::ffff:127.0.0.1', '192.0.2.10', 'FD00:0:0:0:0:0:0:10']) {
        const r = await agent.register({ name: 'hijack', port, address });
        assert.equal(r.status, 400, `${name} on ${address}`);
        assert.equal(r.json.error, 'invalid_argument');
        assert.equal(r.json.field, 'port');
        assert.equal(
          r.json.message,
          `port: ${port} is this agent's own ${name} port; a registration must point at the service, not at the agent`,
        );
      }
    }
    assert.equal(agent.registry.list().length, 0);
    assert.equal(cp.registerCalls.length, 0);
  });

  it('refuses an address that is not this host, naming address', async () => {
    for (const address of ['10.1.2.3', '192.0.2.11', 'fd00::11', 'db.internal', '127.1']) {
      const r = await agent.register({ name: 'elsewhere', port: 5432, address });
      assert.equal(r.status, 400, address);
      assert.equal(r.json.field, 'address');
      assert.match(
        String(r.json.message),
        /^address: ".*" is not an address of this host \(loopback or an interface address\); the agent registers only services on this host unless started with --allow-remote-registrations$/,
      );
    }
    for (const address of ['0.0.0.0', '::']) {
      const r = await agent.register({ name: 'any', port: 5432, address });
      assert.equal(r.status, 400, address);
      assert.equal(r.json.field, 'address');
      assert.match(String(r.json.message), /is not an address a service can be reached on/);
    }
    assert.equal(agent.registry.list().length, 0);
  });

  it("accepts this host's loopback, interface and advertised addresses on other ports", async () => {
    for (const [i, address] of ['127.0.0.1', 'localhost', '::1', '192.0.2.10', 'fd00::10'].entries()) {
      const r = await agent.register({ name: 'local', id: `local-${i}`, port: 8000 + i, address });
      assert.equal(r.status, 201, `${address}: ${JSON.stringify(r.json)}`);
    }
    assert.equal(agent.registry.list().length, 5);
  });
});

describe('remote registrations when the agent allows them', () => {
  it('accepts any address with "any", but never the agent\'s own ports on this host or behind a hostname', async () => {
    const cp = await TestControlPlane.start();
    const agent = await startAgentAdmin(cp.port, { allowRemoteRegistrations: 'any' });
    try {
      const ok = await agent.register({ name: 'db', port: 5432, address: '10.1.2.3' });
      assert.equal(ok.status, 201, JSON.stringify(ok.json));
      assert.equal(cp.registerCalls.at(-1)?.instances[0].address, '10.1.2.3');
      // Another host's agent ports are that host's business.
      assert.equal((await agent.register({ name: 'peer', port: INBOUND, address: '10.1.2.3' })).status, 201);
      assert.equal((await agent.register({ name: 'named', port: 5432, address: 'db.internal' })).status, 201);
      for (const address of ['127.0.0.1', '192.0.2.10', 'db.internal', '127.1']) {
        const r = await agent.register({ name: 'hijack', port: agent.admin.port, address });
        assert.equal(r.status, 400, address);
        assert.equal(r.json.field, 'port');
      }
      assert.equal((await agent.register({ name: 'any', port: 5432, address: '0.0.0.0' })).json.field, 'address');
    } finally {
      await agent.close();
      await cp.stop();
    }
  });

  it('accepts only the listed addresses and blocks with a list, and no hostname', async () => {
    const cp = await TestControlPlane.start();
    const agent = await startAgentAdmin(cp.port, { allowRemoteRegistrations: ['10.0.0.0/8', '203.0.113.7', 'fd12::/16'] });
    try {
      for (const address of ['10.1.2.3', '203.0.113.7', 'fd12:1::5']) {
        assert.equal((await agent.register({ name: 'ok', port: 5432, address })).status, 201, address);
      }
      for (const address of ['11.0.0.1', '203.0.113.8', 'fd13::5', 'db.internal']) {
        const r = await agent.register({ name: 'no', port: 5432, address });
        assert.equal(r.status, 400, address);
        assert.equal(r.json.field, 'address');
        assert.match(String(r.json.message), /nor one the agent's --allow-remote-registrations list allows \(hostnames never are\)$/);
      }
    } finally {
      await agent.close();
      await cp.stop();
    }
  });
});

describe('RegistrationTargets', () => {
  it('reads the own ports at each check (the admin port is known only once listening)', () => {
    let admin = 0;
    const targets = new RegistrationTargets({ ownPorts: () => ({ admin }), hostAddresses: () => [] });
    targets.check({ address: '127.0.0.1', port: 15000 });
    admin = 15000;
    assert.throws(
      () => targets.check({ address: '127.0.0.1', port: 15000 }),
      (e: unknown) => e instanceof ValidationError && e.field === 'port',
    );
  });

  it('rejects allowance entries that are not addresses or CIDR blocks, naming the entry', () => {
    assert.equal(parseAddressAllowance('any', 'f'), 'any');
    parseAddressAllowance(['10.0.0.0/8', '::/0', '192.0.2.1'], 'f');
    for (const [i, bad] of ['db.internal', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/8/8', '10.0.0.0/x', ''].entries()) {
      assert.throws(
        () => parseAddressAllowance(['10.0.0.0/8', bad], '--allow-remote-registrations'),
        (e: unknown) => e instanceof ValidationError && e.field === '--allow-remote-registrations[1]',
        `${i}: ${bad}`,
      );
    }
  });

  it('compares IP literals in one canonical form', () => {
    assert.equal(canonicalIp('::FFFF:127.0.0.1'), '127.0.0.1');
    assert.equal(canonicalIp('::ffff:7f00:2'), '127.0.0.2');
    assert.equal(canonicalIp('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(canonicalIp('[FE80::1%eth0]'), 'fe80::1');
    assert.equal(canonicalIp('127.1'), undefined);
    assert.equal(canonicalIp('localhost'), undefined);
  });
});
