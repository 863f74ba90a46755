import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger, Defaults } from '@weft/shared';
import { type Agent, startAgent } from './agent.js';
import type { AgentOptions } from './config.js';
import { TestControlPlane, testEndpoint } from './discovery/test-control-plane.js';

function options(dataDir: string, cpPort: number, lines: string[]): AgentOptions {
  return {
    controlPlane: { host: '127.0.0.1', port: cpPort },
    dataDir,
    advertiseAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    requestTimeoutMs: Defaults.requestTimeoutMs,
    subscribeWaitMs: 2_000,
    logger: createLogger({}, { level: 'debug', write: (l) => lines.push(l) }),
    // The fake control plane (discovery/test-control-plane.ts) speaks plaintext; enrolment and TLS are tested in test/src/trust.test.ts.
    insecure: true,
  };
}

async function admin(agent: Agent, method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${agent.adminPort}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** GET through the agent's outbound listener with `Host: service`. */
function viaOutbound(agent: Agent, service: string, path: string): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: agent.outboundPort, path, headers: { host: service }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, error: res.headers['x-weft-error'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function freePort(): Promise<number> {
  const probe = await TestControlPlane.start();
  await probe.stop();
  return probe.port;
}

describe('startAgent', () => {
  it('logs ready, connects, registers, routes a request through both listeners, and deregisters on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-agent-'));
    const cp = await TestControlPlane.start();
    const app = http.createServer((req, res) => res.end(`hello from app ${req.url}`));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const lines: string[] = [];
    const agent = await startAgent(options(dir, cp.port, lines));
    try {
      await cp.waitFor(() => lines.some((l) => JSON.parse(l).msg === 'ready') || undefined, 4_000, 'the ready line');
      const ready = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'ready');
      assert.deepEqual(ready && [ready.agentId, ready.adminPort, ready.outboundPort, ready.inboundPort, ready.advertiseAddress], [
        agent.agentId,
        agent.adminPort,
        agent.outboundPort,
        agent.inboundPort,
        '127.0.0.1',
      ]);
      assert.equal((await readFile(join(dir, 'agent-id'), 'utf8')).trim(), agent.agentId);
      const first = await cp.waitFor(() => cp.latest()?.requests[0], 4_000, 'stream');
      assert.equal(first.agent?.agent_id, agent.agentId);
      assert.equal(first.agent?.inbound_port, agent.inboundPort);
      // The connect triggers a full (replace_all) sync, even with nothing registered.
      await cp.waitFor(() => cp.registerCalls.find((c) => c.replace_all), 4_000, 'full sync');
      await cp.waitFor(async () => (await admin(agent, 'GET', '/ready')).status === 200 || undefined, 4_000, 'ready');

      const appPort = (app.address() as AddressInfo).port;
      const reg = await admin(agent, 'POST', '/v1/services', { name: 'hello', port: appPort });
      assert.equal(reg.status, 201);
      assert.equal(reg.json.synced, true);
      const id = String(reg.json.id);
      assert.equal(id, `hello-${agent.agentId}-${appPort}`);

      // The control plane publishes the instance; the outbound side resolves it and hops to our own inbound.
      cp.autoAnswer = true;
      cp.services.set('hello', {
        version: '1',
        endpoints: [testEndpoint(id, { agent_id: agent.agentId, agent_port: agent.inboundPort, port: appPort })],
      });
      const res = await viaOutbound(agent, 'hello', '/greet');
      assert.equal(res.status, 200, res.body);
      assert.equal(res.body, 'hello from app /greet');
      const unknown = await viaOutbound(agent, 'nobody', '/');
      assert.equal(unknown.error, 'unknown_service');

      const config = await admin(agent, 'GET', '/config');
      assert.deepEqual(Object.keys(config.json.services as object), ['hello']);
      assert.ok((config.json.subscriptions as string[]).includes('endpoints/nobody'));
    } finally {
      await agent.close();
      await new Promise<void>((r) => app.close(() => r()));
    }
    assert.ok(
      cp.deregisterCalls.some((c) => c.instance_ids.length === 1),
      'close() deregisters its instances',
    );
    await cp.stop();

    // A restart with the same data dir keeps the id and re-registers the persisted service.
    const cp2 = await TestControlPlane.start();
    const again = await startAgent(options(dir, cp2.port, []));
    try {
      const sync = await cp2.waitFor(() => cp2.registerCalls.find((c) => c.replace_all), 4_000, 'full sync after restart');
      assert.equal(sync.agent?.agent_id, again.agentId);
      assert.deepEqual(
        sync.instances.map((i) => i.service),
        ['hello'],
      );
      // The persisted config snapshot is offered as initial_versions.
      const first = cp2.latest()!.requests[0];
      assert.deepEqual(first.initial_versions, { 'endpoints/hello': '1' });
    } finally {
      await again.close();
      await cp2.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('starts without a control plane, is not ready, and connects and syncs when it appears', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-agent-'));
    const port = await freePort();
    const lines: string[] = [];
    const agent = await startAgent(options(dir, port, lines));
    let cp: TestControlPlane | undefined;
    const messages = () => lines.map((l) => JSON.parse(l) as { msg: string; level: string });
    try {
      const notReady = await admin(agent, 'GET', '/ready');
      assert.equal(notReady.status, 503);
      assert.equal(notReady.json.reason, 'control plane not connected');
      // Not ready, so no `ready` line: `listening` carries the ports; and it never connected, so nothing says "disconnected".
      assert.ok(messages().some((m) => m.msg === 'listening'));
      assert.ok(!messages().some((m) => m.msg === 'ready'), 'no ready line while /ready answers 503');
      let firstWarning: { msg: string } | undefined;
      // The first dial gives up after the discovery client's 5 s connect deadline.
      for (let i = 0; i < 200 && !firstWarning; i++) {
        firstWarning = messages().find((m) => m.level === 'warn' && /^control plane/.test(m.msg));
        if (!firstWarning) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(firstWarning, 'a warning about the control plane');
      assert.equal(firstWarning.msg, 'control plane not reachable yet; retrying');
      assert.ok(!messages().some((m) => /disconnected/.test(m.msg)), 'never says disconnected before it ever connected');
      const reg = await admin(agent, 'POST', '/v1/services', { name: 'web', port: 8080 });
      assert.equal(reg.status, 201);
      assert.equal(reg.json.synced, false);
      const unavailable = await viaOutbound(agent, 'orders', '/');
      assert.equal(unavailable.error, 'control_plane_unavailable');

      cp = await TestControlPlane.start(port);
      const server = cp;
      const sync = await server.waitFor(() => server.registerCalls.find((c) => c.replace_all), 8_000, 'full sync');
      assert.deepEqual(
        sync.instances.map((i) => i.instance_id),
        [`web-${agent.agentId}-8080`],
      );
      await server.waitFor(async () => (await admin(agent, 'GET', '/ready')).status === 200 || undefined, 4_000, 'ready');
      assert.ok(
        messages().some((m) => m.msg === 'ready'),
        'the ready line once /ready answers 200',
      );
      const listed = await admin(agent, 'GET', '/v1/services');
      await server.waitFor(
        async () => ((await admin(agent, 'GET', '/v1/services')).json.services as { synced: boolean }[])[0]?.synced,
        2_000,
        'synced',
      );
      assert.equal((listed.json.services as unknown[]).length, 1);
    } finally {
      await agent.close();
      await cp?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses registrations at its own admin, outbound and inbound ports, and drops a persisted one that points at them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-agent-'));
    const cp = await TestControlPlane.start();
    const adminPort = await freePort();
    await writeFile(
      join(dir, 'services.json'),
      JSON.stringify({
        version: 1,
        services: [
          { name: 'hijack', id: 'hijack-1', address: '127.0.0.1', port: adminPort },
          { name: 'web', id: 'web-1', address: '127.0.0.1', port: 8080 },
        ],
      }),
    );
    const lines: string[] = [];
    const agent = await startAgent({ ...options(dir, cp.port, lines), adminPort });
    try {
      const listed = (await admin(agent, 'GET', '/v1/services')).json.services as { id: string }[];
      assert.deepEqual(
        listed.map((s) => s.id),
        ['web-1'],
      );
      const skipped = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'skipping persisted registration');
      assert.equal(skipped?.instanceId, 'hijack-1');
      assert.match(skipped?.error, /^port: \d+ is this agent's own admin port/);
      for (const [name, port] of [
        ['admin', agent.adminPort],
        ['outbound', agent.outboundPort],
        ['inbound', agent.inboundPort],
      ] as const) {
        const r = await admin(agent, 'POST', '/v1/services', { name: 'hijack', port });
        assert.equal(r.status, 400, name);
        assert.equal(r.json.field, 'port');
        assert.match(String(r.json.message), new RegExp(`^port: ${port} is this agent's own ${name} port`));
      }
      const remote = await admin(agent, 'POST', '/v1/services', { name: 'db', port: 5432, address: '198.51.100.7' });
      assert.equal(remote.status, 400);
      assert.equal(remote.json.field, 'address');
    } finally {
      await agent.close();
      await cp.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('allows remote registrations only when told to, and names a bad allowance', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-agent-'));
    const cp = await TestControlPlane.start();
    await assert.rejects(startAgent({ ...options(dir, cp.port, []), allowRemoteRegistrations: ['10.0.0.0/8', 'db.internal'] }), {
      name: 'ValidationError',
      field: 'allowRemoteRegistrations[1]',
    });
    const agent = await startAgent({ ...options(dir, cp.port, []), allowRemoteRegistrations: ['198.51.100.0/24'] });
    try {
      assert.equal((await admin(agent, 'POST', '/v1/services', { name: 'db', port: 5432, address: '198.51.100.7' })).status, 201);
      assert.equal((await admin(agent, 'POST', '/v1/services', { name: 'db', port: 5433, address: '198.51.101.7' })).json.field, 'address');
    } finally {
      await agent.close();
      await cp.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
