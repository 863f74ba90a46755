/**
 * Access policy enforced by real listeners in front of a real app, with the
 * source identity supplied by the listeners' `identify` seam (here a test
 * function reading a test header; the mTLS listener will read the caller's
 * certificate): the inbound side answers 403 forbidden naming source and
 * rule before the app sees anything, the outbound side runs the same check
 * for an instance on its own host, shadow mode lets the request through and
 * counts it, and nothing is checked while enforcement is off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MetricsRegistry, type SourceIdentity, silentLogger } from '@weft/shared';
import type { Listener, ServiceSnapshot } from '../contracts.js';
import type { Http1Request } from '../http1/server-message.js';
import type { AccessOptions } from '../proxy/access-policy.js';
import { startInboundListener } from '../proxy/inbound-listener.js';
import { startOutboundListener } from '../proxy/outbound-listener.js';
import { ProxyMetrics } from '../proxy/proxy-metrics.js';
import { endpoint, localInstances, send, startUpstream, staticSource, type Upstream } from '../proxy/test-support.js';
import { AccessView } from './policy-access-view.js';
import { PolicyView } from './policy-view.js';

/** TEST ONLY: who sent the request, from a header only this test's listeners read. */
const TEST_SOURCE = 'x-test-source';
const identify = (req: Http1Request): SourceIdentity | undefined => {
  const name = req.header(TEST_SOURCE);
  return name ? { spiffeId: `spiffe://test/svc/${name}`, service: name, authenticated: true } : undefined;
};

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
  const access = (enforce: boolean): AccessOptions => ({
    enforce,
    identify,
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
    const common = { agentId: 'agent-b', local, logger: silentLogger, requestTimeoutMs: 5_000, host: '127.0.0.1', port: 0 };
    inbound = await startInboundListener({ ...common, endpoints: staticSource({}), metrics, access: access(true) });
    open = await startInboundListener({ ...common, endpoints: staticSource({}), access: access(false) });
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
    });
  });

  after(async () => {
    await outbound.close();
    await inbound.close();
    await open.close();
    await app.close();
  });

  const viaInbound = (instance: string, path: string, source?: string, method = 'GET') =>
    send({
      port: inbound.port,
      path,
      method,
      headers: { host: 'orders', 'x-weft-instance': instance, ...(source ? { [TEST_SOURCE]: source } : {}) },
    });

  it('answers 403 forbidden naming the rule and the source, before the app sees the request', async () => {
    const before = hits;
    const res = await viaInbound('orders-1', '/api/orders', 'web', 'POST');
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-weft-error'], 'forbidden; policy=orders/1');
    assert.equal(res.headers['x-weft-answered-by'], 'agent/agent-b');
    assert.match(res.body.toString(), /spiffe:\/\/test\/svc\/web may not call service orders: rule orders\/1 denies it/);
    assert.equal(hits, before);
  });

  it('lets an allowed request through to the instance', async () => {
    const res = await viaInbound('orders-1', '/api/../api/orders?x=1', 'web');
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.body.toString(), 'app saw GET /api/../api/orders?x=1');
  });

  it('applies the mesh default (all-authenticated) when no rule matches, and refuses an unauthenticated source', async () => {
    assert.equal((await viaInbound('orders-1', '/x', 'batch')).status, 200);
    const res = await viaInbound('orders-1', '/api/orders');
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-weft-error'], 'forbidden; policy=orders/default');
    assert.match(res.body.toString(), /an unauthenticated source may not call service orders/);
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
    const res = await send({
      port: open.port,
      path: '/api/orders',
      method: 'POST',
      headers: { host: 'orders', 'x-weft-instance': 'orders-1' },
    });
    assert.equal(res.status, 200);
  });

  it('runs the same check on the outbound side for an instance on this host', async () => {
    const before = hits;
    const denied = await send({
      port: outbound.port,
      path: 'http://orders/admin',
      method: 'POST',
      headers: { host: 'orders', [TEST_SOURCE]: 'web' },
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['x-weft-error'], 'forbidden; policy=orders/1');
    assert.equal(denied.headers['x-weft-answered-by'], undefined, 'the outbound side answers its own app unmarked');
    assert.equal(hits, before);
    const allowed = await send({ port: outbound.port, path: 'http://orders/api/x', headers: { host: 'orders', [TEST_SOURCE]: 'web' } });
    assert.equal(allowed.status, 200);
    assert.equal(hits, before + 1);
  });

  it('passes the destination agent’s 403 back to the caller through the mesh hop', async () => {
    const res = await send({
      port: outbound.port,
      path: 'http://remote/admin',
      method: 'PUT',
      headers: { host: 'remote', [TEST_SOURCE]: 'web' },
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-weft-error'], 'forbidden; policy=orders/1');
  });
});
