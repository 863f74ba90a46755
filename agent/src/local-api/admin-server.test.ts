import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AgentInfo, parseLocalServiceSpec, silentLogger } from '@weft/shared';
import { ConfigView } from '../discovery/config-view.js';
import { RegistrationSync } from '../discovery/registration-sync.js';
import { TestControlPlane } from '../discovery/test-control-plane.js';
import { type AdminServer, startAdminServer } from './admin-server.js';
import { LocalRegistry, SERVICES_FILE } from './local-registry.js';
import { LocalServices } from './local-services.js';

const AGENT: AgentInfo = { agentId: 'agent-a', hostname: 'host-a', address: '127.0.0.1', inboundPort: 15006, zone: 'z1', version: 'test' };

interface Env {
  dir: string;
  cpPort: number;
  registry: LocalRegistry;
  sync: RegistrationSync;
  services: LocalServices;
  view: ConfigView;
  admin: AdminServer;
  base: string;
  close(): Promise<void>;
}

async function setup(cpPort: number, dir?: string): Promise<Env> {
  const dataDir = dir ?? (await mkdtemp(join(tmpdir(), 'weft-agent-admin-')));
  const registry = new LocalRegistry(dataDir, silentLogger);
  const sync = new RegistrationSync({
    controlPlane: { host: '127.0.0.1', port: cpPort },
    agent: AGENT,
    source: registry,
    logger: silentLogger,
    isConnected: () => true,
    rpcTimeoutMs: 1_000,
  });
  const services = new LocalServices({ agentId: AGENT.agentId, zone: 'z1', registry, sync, logger: silentLogger });
  const view = new ConfigView({ subscribeWaitMs: 500, logger: silentLogger });
  const admin = await startAdminServer({ port: 0, agentId: AGENT.agentId, services, view, logger: silentLogger, listenersUp: () => true });
  return {
    dir: dataDir,
    cpPort,
    registry,
    sync,
    services,
    view,
    admin,
    base: `http://127.0.0.1:${admin.port}`,
    close: async () => {
      services.close();
      await sync.close(false);
      await registry.flush();
      await admin.close();
    },
  };
}

async function call(env: Env, method: string, path: string, body?: unknown) {
  const res = await fetch(`${env.base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as Record<string, unknown> };
}

describe('admin API', () => {
  let cp: TestControlPlane;
  let env: Env;
  before(async () => {
    cp = await TestControlPlane.start();
    env = await setup(cp.port);
    assert.equal(await env.sync.fullSync(), true);
  });
  after(async () => {
    await env.close();
    await cp.stop();
    await rm(env.dir, { recursive: true, force: true });
  });

  it('POST /v1/services registers with a stable default id and waits for the control plane', async () => {
    const r = await call(env, 'POST', '/v1/services', { name: 'web', port: 8080, tags: ['v1'] });
    assert.equal(r.status, 201);
    // No check given: a TCP check, and nothing listens on 8080, which the answer says.
    assert.deepEqual(
      { ...r.json, warning: undefined },
      {
        id: 'web-agent-a-8080',
        service: 'web',
        synced: true,
        replaced: false,
        changes: [],
        warning: undefined,
      },
    );
    assert.match(String(r.json.warning), /^nothing accepts connections on 127\.0\.0\.1:8080 yet/);
    const sent = cp.registerCalls.at(-1)!;
    assert.equal(sent.replace_all, false);
    assert.equal(sent.agent?.agent_id, 'agent-a');
    assert.equal(sent.instances[0].instance_id, 'web-agent-a-8080');
    assert.equal(sent.instances[0].address, '127.0.0.1');
    assert.equal(sent.instances[0].zone, 'z1');
    assert.equal(sent.instances[0].health, 'HEALTH_UNKNOWN', 'not passing before its check passed');
    // Re-registering the same service and port updates the same instance.
    const again = await call(env, 'POST', '/v1/services', { name: 'web', port: 8080, tags: ['v2'] });
    assert.equal(again.json.id, 'web-agent-a-8080');
    assert.equal(again.json.replaced, true);
    assert.deepEqual(again.json.changes, ['tags: [v1] -> [v2]']);
    const refused = await call(env, 'POST', '/v1/services?replace=false', { name: 'web', port: 8080, tags: ['v3'] });
    assert.equal(refused.status, 409);
    assert.equal(refused.json.error, 'registration_exists');
    assert.deepEqual(refused.json.changes, ['tags: [v2] -> [v3]']);
    const list = await call(env, 'GET', '/v1/services');
    const services = list.json.services as Record<string, unknown>[];
    assert.equal(services.filter((s) => s.id === 'web-agent-a-8080').length, 1);
    const web = services.find((s) => s.id === 'web-agent-a-8080')!;
    assert.deepEqual(web.tags, ['v2']);
    assert.notEqual(web.health, 'passing', 'nothing listens on 8080');
    assert.deepEqual(web.check, { tcp: true, interval: '5000ms', timeout: '2000ms' });
    assert.equal(env.registry.get('web-agent-a-8080')?.port, 8080);
  });

  for (const [label, body, field, message] of [
    ['port 0', { name: 'web', port: 0 }, 'port', /^port: must be 1\.\.65535$/],
    ['a port given as a string', { name: 'web', port: '80' }, 'port', /^port: must be an integer/],
    ['a bad service name', { name: 'Web_App', port: 80 }, 'name', /^name: invalid service name/],
    ['a missing name', { port: 80 }, 'name', /^name: is required/],
    ['tags that are not an array', { name: 'web', port: 80, tags: 'a,b' }, 'tags', /^tags: must be an array/],
    ['metadata that is too large', { name: 'web', port: 80, metadata: bigMetadata(20, 1000) }, 'metadata', /^metadata: too large/],
    ['a misspelled field', { name: 'web', prot: 80 }, 'prot', /^prot: unknown field/],
    ['a health check without a kind', { name: 'web', port: 80, health: { interval: '5s' } }, 'health', /needs "http"/],
    ['a body that is not an object', [1, 2], '', /must be an object/],
  ] as const) {
    it(`answers 400 naming the field for ${label}`, async () => {
      const r = await call(env, 'POST', '/v1/services', body);
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'invalid_argument');
      assert.equal(r.json.field, field);
      assert.match(String(r.json.message), message);
      assert.equal(r.headers.get('x-weft-error'), 'invalid_argument');
    });
  }

  it('answers 400 for invalid JSON', async () => {
    const r = await call(env, 'POST', '/v1/services', '{"name": "web", port: }');
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_argument');
    assert.equal(r.json.field, '');
    assert.match(String(r.json.message), /^body: invalid JSON/);
  });

  it('answers 400 naming metadata for 100 KB of metadata', async () => {
    const r = await call(env, 'POST', '/v1/services', { name: 'web', port: 80, metadata: bigMetadata(100, 1000) });
    assert.equal(r.status, 400);
    assert.equal(r.json.field, 'metadata');
  });

  it('answers 413 naming the limit for a body over 1 MiB', async () => {
    const r = await call(env, 'POST', '/v1/services', { name: 'web', port: 80, metadata: bigMetadata(100, 20_000) });
    assert.equal(r.status, 413);
    assert.equal(r.json.error, 'payload_too_large');
    assert.match(String(r.json.message), /1048576-byte \(1024 KiB\) limit/);
  });

  it('answers 400 with the control plane message when it rejects the instance, and keeps nothing', async () => {
    cp.registerError = { code: 3, details: 'instances[0].port: must be 1..65535' };
    try {
      const r = await call(env, 'POST', '/v1/services', { name: 'rejected', port: 9000 });
      assert.equal(r.status, 400);
      assert.equal(r.json.field, 'port');
      assert.equal(r.json.message, 'port: must be 1..65535');
      assert.equal(env.registry.get('rejected-agent-a-9000'), undefined);
    } finally {
      cp.registerError = undefined;
    }
  });

  it('DELETE /v1/services/{id} deregisters, then answers 404', async () => {
    await call(env, 'POST', '/v1/services', { name: 'tmp', port: 7000, id: 'tmp-1' });
    const r = await call(env, 'DELETE', '/v1/services/tmp-1');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { id: 'tmp-1', removed: true, synced: true });
    assert.deepEqual(cp.deregisterCalls.at(-1)?.instance_ids, ['tmp-1']);
    assert.equal(env.registry.get('tmp-1'), undefined);
    const again = await call(env, 'DELETE', '/v1/services/tmp-1');
    assert.equal(again.status, 404);
    assert.equal(again.json.error, 'not_found');
  });

  it('persists registrations in services.json in the input form', async () => {
    await call(env, 'POST', '/v1/services', {
      name: 'api',
      port: 8081,
      health: { http: '/healthz', interval: '30s' },
      metadata: { v: '1' },
    });
    await env.registry.flush();
    const file = JSON.parse(await readFile(join(env.dir, SERVICES_FILE), 'utf8'));
    const api = file.services.find((s: { id: string }) => s.id === 'api-agent-a-8081');
    assert.deepEqual(parseLocalServiceSpec(api), {
      name: 'api',
      port: 8081,
      address: '127.0.0.1',
      id: 'api-agent-a-8081',
      zone: undefined,
      weight: 1,
      tags: [],
      metadata: { v: '1' },
      health: { kind: 'http', path: '/healthz', intervalMs: 30_000, timeoutMs: 2_000 },
      protocol: 'http',
    });
    await call(env, 'POST', '/v1/services', { name: 'greeter', port: 8082, protocol: 'grpc' });
    await env.registry.flush();
    const reloaded = await new LocalRegistry(env.dir, silentLogger).load();
    assert.equal(reloaded.find((s) => s.id === 'greeter-agent-a-8082')?.protocol, 'grpc', 'the protocol survives a restart');
    assert.ok(reloaded.some((s) => s.id === 'web-agent-a-8080'));
    assert.ok(reloaded.some((s) => s.id === 'api-agent-a-8081'));
    assert.ok(!reloaded.some((s) => s.id === 'tmp-1'));
  });

  it('serves /healthz, /ready, /config, and 404/405 JSON for the rest', async () => {
    assert.equal((await call(env, 'GET', '/healthz')).status, 200);
    const notReady = await call(env, 'GET', '/ready');
    assert.equal(notReady.status, 503);
    assert.equal(notReady.json.ready, false);
    assert.equal(notReady.json.reason, 'control plane not connected');
    env.view.markConnected();
    const ready = await call(env, 'GET', '/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.json.ready, true);
    const config = await call(env, 'GET', '/config');
    assert.equal(config.status, 200);
    assert.equal(config.json.agentId, 'agent-a');
    assert.deepEqual(config.json.services, {});
    assert.equal((config.json.connection as { connected: boolean }).connected, true);
    const missing = await call(env, 'GET', '/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error, 'not_found');
    assert.equal((await call(env, 'PUT', '/v1/services', {})).status, 405);
    assert.equal((await call(env, 'GET', '/v1/services/%E0%A4%A')).status, 400);
  });

  it('reports health check results to the control plane', async () => {
    const app = http.createServer((_q, res) => res.end('ok'));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    try {
      const port = (app.address() as AddressInfo).port;
      const r = await call(env, 'POST', '/v1/services', { name: 'checked', port, health: { http: '/healthz', interval: '100ms' } });
      assert.equal(r.status, 201);
      const id = String(r.json.id);
      const registered = cp.registerCalls.at(-1)!.instances[0];
      assert.equal(registered.health, 'HEALTH_UNKNOWN');
      const report = await cp.waitFor(() => cp.setHealthCalls.find((c) => c.instance_id === id), 3_000, 'SetHealth');
      assert.equal(report.health, 'HEALTH_PASSING');
      assert.equal(report.agent_id, 'agent-a');
      await cp.waitFor(() => env.registry.entry(id)?.synced, 2_000, 'synced');
      assert.equal(env.registry.entry(id)?.instance.health, 'passing');
      await call(env, 'DELETE', `/v1/services/${id}`);
    } finally {
      await new Promise<void>((r) => app.close(() => r()));
    }
  });
});

describe('registration while the control plane is unreachable', () => {
  it('keeps the registration locally and syncs it with replace_all when the control plane is back', async () => {
    const probe = await TestControlPlane.start();
    const port = probe.port;
    await probe.stop();
    const env = await setup(port);
    let cp: TestControlPlane | undefined;
    try {
      const r = await call(env, 'POST', '/v1/services', { name: 'web', port: 8080 });
      assert.equal(r.status, 201);
      assert.equal(r.json.synced, false);
      const listed = (await call(env, 'GET', '/v1/services')).json.services as { id: string; synced: boolean }[];
      assert.deepEqual(
        listed.map((s) => [s.id, s.synced]),
        [['web-agent-a-8080', false]],
      );
      cp = await TestControlPlane.start(port);
      const server = cp;
      // The sync retries by itself (its stream is "connected" in this setup).
      const sent = await server.waitFor(() => server.registerCalls.find((c) => c.replace_all), 8_000, 'full sync');
      assert.equal(sent.replace_all, true);
      assert.deepEqual(
        sent.instances.map((i) => i.instance_id),
        ['web-agent-a-8080'],
      );
      await server.waitFor(() => env.registry.entry('web-agent-a-8080')?.synced, 2_000, 'synced');
    } finally {
      await env.close();
      await cp?.stop();
      await rm(env.dir, { recursive: true, force: true });
    }
  });
});

function bigMetadata(keys: number, valueLength: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < keys; i++) out[`k${i}`] = 'x'.repeat(valueLength);
  return out;
}
