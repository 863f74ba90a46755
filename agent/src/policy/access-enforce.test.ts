/**
 * Access policy enforced by real listeners in front of a real app, with
 * real identities: the inbound listener speaks mTLS and takes the source
 * from the caller's certificate (a service certificate of web held by agent
 * a, or an agent certificate; certificates from a throwaway CA), and the
 * outbound listener takes it from the local app's proxy credential (real
 * ProxyCredentials). The inbound side answers 403 forbidden naming source
 * and rule before the app sees anything, the outbound side runs the same
 * check for an instance on its own host and presents web's certificate on
 * the hop, shadow mode lets the request through and counts it, and nothing
 * is checked while enforcement is off.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MetricsRegistry, silentLogger } from '@weft/shared';
import type { Listener, ServiceSnapshot } from '../contracts.js';
import { AgentIdentity, snapshotOf } from '../identity/agent-identity.js';
import { ProxyCredentials } from '../local-api/proxy-credentials.js';
import type { AccessOptions } from '../proxy/access-policy.js';
import { startInboundListener } from '../proxy/inbound-listener.js';
import { MeshTls } from '../proxy/mesh-tls.js';
import { startOutboundListener } from '../proxy/outbound-listener.js';
import { LocalCallers } from '../proxy/proxy-auth.js';
import { ProxyMetrics } from '../proxy/proxy-metrics.js';
import { heldServices, type Pem, type TestCa, testCa } from '../proxy/test-mesh-ca.js';
import { endpoint, localInstances, send, startUpstream, staticSource, type Upstream } from '../proxy/test-support.js';
import { AccessView } from './policy-access-view.js';
import { PolicyView } from './policy-view.js';

async function identityOf(ca: TestCa, agentId: string): Promise<AgentIdentity> {
  const { keyPem, certificatePem } = await ca.issue(agentId);
  return new AgentIdentity(snapshotOf(keyPem, certificatePem, ca.pem, 'test'), silentLogger);
}

function applyAccess(view: PolicyView, service: string, access: Record<string, unknown> | undefined, version: string): void {
  const bundle = { service, access: access && { apiVersion: 'weft.dev/v1', kind: 'AccessPolicy', metadata: { service }, ...access } };
  const errors = view.apply(
    [{ name: `policy/${service}`, version, body: 'policy', policy: { service, json: JSON.stringify(bundle) } }] as never,
    [],
    [],
  );
  assert.deepEqual(errors, []);
}

describe('access enforcement by the listeners', () => {
  let app: Upstream;
  let hits = 0;
  const policies = new PolicyView(silentLogger);
  const held = new Set(['orders', 'stock']);
  const metrics = new ProxyMetrics(new MetricsRegistry());
  let inbound: Listener;
  let outbound: Listener;
  let open: Listener;
  let ca: TestCa;
  let webCert: Pem;
  let agentACert: Pem;
  let meshA: MeshTls;
  let meshB: MeshTls;
  let webSecret = '';
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-access-enforce-'));
  const access = (enforce: boolean): AccessOptions => ({
    enforce,
    policy: new AccessView(policies, {
      get: (s): ServiceSnapshot | undefined => (held.has(s) ? { service: s, version: '1', endpoints: [] } : undefined),
      resolve: (s) => Promise.reject(new Error(`control plane not connected (asked for ${s})`)),
    }),
  });

  before(async () => {
    app = await startUpstream((req, res) => {
      hits++;
      req.resume();
      req.on('end', () => res.end(`app saw ${req.method} ${req.url}`));
    });
    applyAccess(
      policies,
      'orders',
      {
        rules: [
          { name: 'web-reads', action: 'allow', from: ['web'], match: { methods: ['GET'], path: { prefix: '/api/' } } },
          { action: 'deny', from: ['web'] },
        ],
      },
      '1',
    );
    applyAccess(policies, 'stock', { mode: 'shadow', rules: [{ action: 'deny', from: ['web'] }] }, '1');
    const local = localInstances([
      { instanceId: 'orders-1', service: 'orders', address: '127.0.0.1', port: app.port },
      { instanceId: 'stock-1', service: 'stock', address: '127.0.0.1', port: app.port },
      { instanceId: 'fresh-1', service: 'fresh', address: '127.0.0.1', port: app.port },
    ]);
    ca = await testCa();
    webCert = await ca.issueService('web', 'agent-a');
    agentACert = await ca.issue('agent-a');
    const identityA = await identityOf(ca, 'agent-a');
    meshA = new MeshTls({ identity: identityA, logger: silentLogger, services: heldServices({ web: webCert }) });
    meshB = new MeshTls({ identity: await identityOf(ca, 'agent-b'), logger: silentLogger });
    const credentials = new ProxyCredentials(dataDir, silentLogger);
    webSecret = credentials.issue('web', 'web-1');
    const common = { agentId: 'agent-b', local, logger: silentLogger, requestTimeoutMs: 5_000, host: '127.0.0.1', port: 0 };
    inbound = await startInboundListener({ ...common, endpoints: staticSource({}), metrics, access: access(true), tls: meshB });
    open = await startInboundListener({ ...common, endpoints: staticSource({}), access: access(false), tls: meshB });
    const remote = { agentId: 'agent-b', agentAddress: '127.0.0.1', agentPort: inbound.port };
    outbound = await startOutboundListener({
      ...common,
      agentId: 'agent-a',
      endpoints: staticSource({
        // An instance on this host (the outbound agent is its agent) and one behind agent-b.
        orders: [endpoint({ service: 'orders', agentId: 'agent-a', instanceId: 'orders-local', port: app.port })],
        remote: [endpoint({ ...remote, service: 'orders', instanceId: 'orders-1', port: 9 })],
      }),
      local: localInstances([]),
      metrics: new ProxyMetrics(new MetricsRegistry()),
      access: access(true),
      tls: meshA,
      callers: new LocalCallers('weft.local', 'agent-a', credentials),
    });
  });

  after(async () => {
    await outbound.close();
    await inbound.close();
    await open.close();
    await app.close();
    meshA.close();
    meshB.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A request to an mTLS inbound listener presenting `cert` (what a peer agent sends). */
  const meshSend = (
    port: number,
    cert: Pem,
    path: string,
    headers: Record<string, string>,
    method = 'GET',
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path,
          method,
          headers,
          key: cert.keyPem,
          cert: cert.certificatePem,
          ca: ca.pem,
          minVersion: 'TLSv1.3',
          checkServerIdentity: () => undefined,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  const webAuth = () => `Basic ${Buffer.from(`web:${webSecret}`).toString('base64')}`;

  /** `as`: web (its service certificate, held by agent-a) or agent-a (the agent's own certificate). */
  const viaInbound = (instance: string, path: string, as: 'web' | 'agent-a' = 'web', method = 'GET') =>
    meshSend(inbound.port, as === 'web' ? webCert : agentACert, path, { host: 'orders', 'x-weft-instance': instance }, method);

  it('answers 403 forbidden naming the rule and the source, before the app sees the request', async () => {
    const before = hits;
    const res = await viaInbound('orders-1', '/api/orders', 'web', 'POST');
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-weft-error'], 'forbidden; policy=orders/1');
    assert.equal(res.headers['x-weft-answered-by'], 'agent/agent-b');
    assert.match(res.body.toString(), /spiffe:\/\/weft\.local\/svc\/web may not call service orders: rule orders\/1 denies it/);
    assert.equal(hits, before);
  });

  it('lets an allowed request through to the instance', async () => {
    const res = await viaInbound('orders-1', '/api/../api/orders?x=1', 'web');
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.body.toString(), 'app saw GET /api/../api/orders?x=1');
  });

  it('applies the mesh default (all-authenticated) when no rule matches, and lets no unauthenticated client in', async () => {
    // agent-a itself (no rule names it): the default allows any mesh identity.
    assert.equal((await viaInbound('orders-1', '/x', 'agent-a')).status, 200);
    // Without a certificate there is no TLS session, so no request at all.
    await assert.rejects(send({ port: inbound.port, path: '/x', headers: { host: 'orders', 'x-weft-instance': 'orders-1' } }));
  });

  it('lets a shadow-mode deny through and counts it as shadow_deny', async () => {
    const res = await viaInbound('stock-1', '/anything', 'web', 'DELETE');
    assert.equal(res.status, 200);
    const text = metrics.registry.render();
    assert.match(text, /weft_access_decisions_total\{service="stock",decision="shadow_deny",rule="stock\/0"\} 1/);
    assert.match(text, /weft_access_decisions_total\{service="orders",decision="deny",rule="orders\/1"\} 1/);
    assert.match(text, /weft_access_decisions_total\{service="orders",decision="allow",rule="orders\/0"\} 1/);
    assert.match(
      text,
      /response_total\{direction="inbound",dst_service="orders",src_service="[^"]*",status_code="403",classification="mesh_error",error="forbidden"\} \d/,
    );
  });

  it('refuses a request whose access policy cannot be known yet (fail closed, 503)', async () => {
    const res = await viaInbound('fresh-1', '/', 'web');
    assert.equal(res.status, 503);
    assert.equal(res.headers['x-weft-error'], 'control_plane_unavailable; policy=fresh/unknown');
    assert.match(res.body.toString(), /access policy not known yet/);
  });

  it('checks nothing while enforcement is off', async () => {
    const res = await meshSend(open.port, webCert, '/api/orders', { host: 'orders', 'x-weft-instance': 'orders-1' }, 'POST');
    assert.equal(res.status, 200);
  });

  it('runs the same check on the outbound side for an instance on this host', async () => {
    const before = hits;
    const denied = await send({
      port: outbound.port,
      path: 'http://orders/admin',
      method: 'POST',
      headers: { host: 'orders', 'proxy-authorization': webAuth() },
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['x-weft-error'], 'forbidden; policy=orders/1');
    assert.equal(denied.headers['x-weft-answered-by'], undefined, 'the outbound side answers its own app unmarked');
    assert.equal(hits, before);
    const allowed = await send({
      port: outbound.port,
      path: 'http://orders/api/x',
      headers: { host: 'orders', 'proxy-authorization': webAuth() },
    });
    assert.equal(allowed.status, 200);
    assert.equal(hits, before + 1);
  });

  it("presents web's certificate on the mesh hop for a caller with web's credential, and passes the 403 back", async () => {
    const res = await send({
      port: outbound.port,
      path: 'http://remote/admin',
      method: 'PUT',
      headers: { host: 'remote', 'proxy-authorization': webAuth() },
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-weft-error'], 'forbidden; policy=orders/1');
    assert.match(res.body.toString(), /spiffe:\/\/weft\.local\/svc\/web may not call/);
    // Without a credential the caller is agent-a (the agent's certificate): the mesh default lets it in.
    const asAgent = await send({ port: outbound.port, path: 'http://remote/admin', method: 'PUT', headers: { host: 'remote' } });
    assert.equal(asAgent.status, 200, asAgent.body.toString());
  });

  it('answers a wrong credential 407 proxy_auth_invalid without calling anything', async () => {
    const before = hits;
    const res = await send({
      port: outbound.port,
      path: 'http://orders/api/x',
      headers: { host: 'orders', 'proxy-authorization': `Basic ${Buffer.from('web:wrong').toString('base64')}` },
    });
    assert.equal(res.status, 407);
    assert.equal(res.headers['x-weft-error'], 'proxy_auth_invalid');
    assert.equal(res.headers['proxy-authenticate'], 'Basic realm="weft"');
    assert.equal(hits, before);
  });
});
