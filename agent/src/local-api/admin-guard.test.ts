import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AgentInfo, silentLogger } from '@weft/shared';
import { ConfigView } from '../discovery/config-view.js';
import { RegistrationSync } from '../discovery/registration-sync.js';
import { TestControlPlane } from '../discovery/test-control-plane.js';
import { isLoopbackAuthority, isLoopbackOrigin } from './admin-guard.js';
import { type AdminServer, type AdminServerOptions, startAdminServer } from './admin-server.js';
import { interfaceAddresses } from './host-addresses.js';
import { LocalRegistry } from './local-registry.js';
import { LocalServices } from './local-services.js';

const AGENT: AgentInfo = { agentId: 'agent-g', hostname: 'host-g', address: '127.0.0.1', inboundPort: 15006, zone: '', version: 'test' };

interface Env {
  registry: LocalRegistry;
  admin: AdminServer;
  close(): Promise<void>;
}

async function setup(cpPort: number, extra: Partial<AdminServerOptions> = {}): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-admin-guard-'));
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
  const view = new ConfigView({ subscribeWaitMs: 500, logger: silentLogger });
  const admin = await startAdminServer({
    port: 0,
    agentId: AGENT.agentId,
    services,
    view,
    logger: silentLogger,
    listenersUp: () => true,
    ...extra,
  });
  return {
    registry,
    admin,
    close: async () => {
      services.close();
      await sync.close(false);
      await registry.flush();
      await admin.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: Record<string, unknown>;
}

/** A raw request, so Host, Origin and Content-Type are exactly what a browser (or an attacker) would send. */
function request(
  port: number,
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: string; host?: string; localAddress?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: o.host ?? '127.0.0.1',
        localAddress: o.localAddress,
        port,
        method: o.method ?? 'GET',
        path: o.path ?? '/healthz',
        headers: o.headers,
        agent: false,
        setHost: o.headers?.host === undefined,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', reject);
    req.end(o.body);
  });
}

function assertRefused(r: Answer, status: number, code: string, header: string, message: RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(r.json.error, code);
  assert.equal(r.json.header, header);
  assert.match(String(r.json.message), message);
  assert.equal(r.headers['x-weft-error'], code);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
}

const registration = JSON.stringify({ name: 'web', port: 8080, id: 'web-1' });

describe('admin API request guard', () => {
  let cp: TestControlPlane;
  let env: Env;
  before(async () => {
    cp = await TestControlPlane.start();
    env = await setup(cp.port);
  });
  after(async () => {
    await env.close();
    await cp.stop();
  });

  it('refuses a DNS-rebinding request (Host: evil.example) with 403 non_loopback_host, reads and writes alike', async () => {
    const read = await request(env.admin.port, { path: '/config', headers: { host: 'evil.example:15000' } });
    assertRefused(read, 403, 'non_loopback_host', 'host', /^Host: "evil\.example:15000"; .*DNS rebinding/);
    assert.equal(read.json.services, undefined);
    const write = await request(env.admin.port, {
      method: 'POST',
      path: '/v1/services',
      headers: { host: 'evil.example', 'content-type': 'application/json' },
      body: registration,
    });
    assertRefused(write, 403, 'non_loopback_host', 'host', /evil\.example/);
    assert.equal(env.registry.get('web-1'), undefined);
    assert.equal(cp.registerCalls.length, 0);
  });

  for (const host of ['localhost.', 'foo.localhost', '127.0.0.1.evil.example', '10.0.0.1', '[fd00::2]', '127.1', '0x7f.0.0.1', '']) {
    it(`refuses Host ${JSON.stringify(host)}`, async () => {
      const r = await request(env.admin.port, { headers: { host } });
      assert.equal(r.status, 403);
      assert.equal(r.json.error, 'non_loopback_host');
    });
  }

  it('answers Host localhost, 127.x.x.x and [::1], with or without a port', async () => {
    for (const host of [
      'localhost',
      'LOCALHOST:15000',
      '127.0.0.1',
      `127.0.0.1:${env.admin.port}`,
      '127.9.8.7:1',
      '[::1]',
      '[::1]:15000',
    ]) {
      const r = await request(env.admin.port, { headers: { host } });
      assert.equal(r.status, 200, `${host}: ${JSON.stringify(r.json)}`);
    }
  });

  it('refuses a cross-origin simple POST (Origin http://evil.example, text/plain) with 403 and registers nothing', async () => {
    const r = await request(env.admin.port, {
      method: 'POST',
      path: '/v1/services',
      headers: { origin: 'http://evil.example', 'content-type': 'text/plain;charset=UTF-8' },
      body: registration,
    });
    assertRefused(r, 403, 'cross_origin', 'origin', /^Origin: "http:\/\/evil\.example"; .*CSRF/);
    assert.equal(env.registry.get('web-1'), undefined);
    assert.equal(cp.registerCalls.length, 0);
  });

  it('refuses a foreign Origin even on a JSON write and on reads', async () => {
    const write = await request(env.admin.port, {
      method: 'POST',
      path: '/v1/services',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
      body: registration,
    });
    assertRefused(write, 403, 'cross_origin', 'origin', /evil/);
    for (const origin of ['null', 'http://localhost.evil.example', 'http://127.0.0.1@evil.example', 'file://', 'http://[fd00::2]']) {
      const r = await request(env.admin.port, { path: '/config', headers: { origin } });
      assert.equal(r.status, 403, origin);
      assert.equal(r.json.error, 'cross_origin');
    }
    assert.equal(env.registry.get('web-1'), undefined);
  });

  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx']) {
    it(`refuses a POST of ${type} without an Origin with 415, and registers nothing`, async () => {
      const r = await request(env.admin.port, {
        method: 'POST',
        path: '/v1/services',
        headers: { 'content-type': type },
        body: registration,
      });
      assertRefused(r, 415, 'unsupported_media_type', 'content-type', /^Content-Type: .*POST needs application\/json$/);
      assert.equal(env.registry.get('web-1'), undefined);
    });
  }

  it('refuses a POST without a Content-Type with 415', async () => {
    const r = await request(env.admin.port, { method: 'POST', path: '/v1/services', body: registration });
    assertRefused(r, 415, 'unsupported_media_type', 'content-type', /^Content-Type: missing; POST needs application\/json$/);
  });

  it('accepts a loopback Origin and application/json with parameters, then a DELETE with no body and no Content-Type', async () => {
    const r = await request(env.admin.port, {
      method: 'POST',
      path: '/v1/services',
      headers: { origin: 'http://localhost:3000', 'content-type': 'Application/JSON; charset=utf-8', host: 'localhost:15000' },
      body: registration,
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(env.registry.get('web-1')?.port, 8080);
    const withBody = await request(env.admin.port, {
      method: 'DELETE',
      path: '/v1/services/web-1',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    assertRefused(
      withBody,
      415,
      'unsupported_media_type',
      'content-type',
      /DELETE needs application\/json \(or no body and no Content-Type\)/,
    );
    const untyped = await request(env.admin.port, {
      method: 'DELETE',
      path: '/v1/services/web-1',
      headers: { 'content-length': '3' },
      body: 'abc',
    });
    assert.equal(untyped.status, 415);
    assert.ok(env.registry.get('web-1'));
    const d = await request(env.admin.port, { method: 'DELETE', path: '/v1/services/web-1', headers: { origin: 'http://127.0.0.1:8080' } });
    assert.equal(d.status, 200, JSON.stringify(d.json));
    assert.equal(env.registry.get('web-1'), undefined);
  });

  it('answers a CORS preflight without any Access-Control-Allow-* header', async () => {
    const r = await request(env.admin.port, {
      method: 'OPTIONS',
      path: '/v1/services',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'POST',
        'access-control-request-private-network': 'true',
      },
    });
    assert.equal(r.status, 405);
    assert.equal(
      Object.keys(r.headers).find((h) => h.startsWith('access-control-')),
      undefined,
    );
  });
});

describe('admin API bound beyond loopback', () => {
  const remote = interfaceAddresses().find((a) => /^\d/.test(a) && !a.startsWith('127.'));
  it('refuses a client that is not on 127.0.0.0/8 or ::1 with 403 non_loopback_client', {
    skip: remote ? false : 'no non-loopback IPv4 interface',
  }, async () => {
    const cp = await TestControlPlane.start();
    const env = await setup(cp.port, { host: '0.0.0.0' });
    try {
      const r = await request(env.admin.port, { host: remote, localAddress: remote, headers: { host: `127.0.0.1:${env.admin.port}` } });
      assertRefused(r, 403, 'non_loopback_client', 'remoteAddress', new RegExp(`only clients on this host .*not ${remote}`));
      const local = await request(env.admin.port, {});
      assert.equal(local.status, 200);
    } finally {
      await env.close();
      await cp.stop();
    }
  });
});

describe('isLoopbackAuthority and isLoopbackOrigin', () => {
  it('take only localhost, 127.0.0.0/8 and ::1 (any spelling of it), with an optional numeric port', () => {
    for (const a of [
      'localhost',
      'localhost:1',
      '127.0.0.1',
      '127.255.255.254:65535',
      '[::1]',
      '[0:0:0:0:0:0:0:1]:80',
      '[::ffff:127.0.0.1]',
    ]) {
      assert.equal(isLoopbackAuthority(a), true, a);
    }
    for (const a of [
      '',
      ':80',
      'localhost:x',
      'localhost:80:80',
      '::1',
      '[::1',
      '[::1]x',
      '[::2]',
      '128.0.0.1',
      '127.0.0.1.nip.io',
      '127.0.0.256',
    ]) {
      assert.equal(isLoopbackAuthority(a), false, a);
    }
    assert.equal(isLoopbackOrigin('http://localhost:3000'), true);
    assert.equal(isLoopbackOrigin('https://[::1]'), true);
    for (const o of ['null', 'http://localhost/', 'ws://localhost', 'http://user@localhost', 'http://evil.example#127.0.0.1']) {
      assert.equal(isLoopbackOrigin(o), false, o);
    }
  });
});
