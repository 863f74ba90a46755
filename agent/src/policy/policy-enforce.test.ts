/**
 * The traffic policy's resilience and load-balancing settings, enforced by a
 * real outbound listener in front of real upstreams: a rule's retry count
 * and per-try timeout and request header edits, a ServicePolicy's circuit
 * breaker and consistent-hash load balancing.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type Endpoint, silentLogger } from '@weft/shared';
import type { Listener } from '../contracts.js';
import { startOutboundListener } from '../proxy/outbound-listener.js';
import { endpoint, localInstances, send, startUpstream, staticSource, type Upstream } from '../proxy/test-support.js';
import { OutboundPolicy } from './policy-outbound.js';
import { PolicyView } from './policy-view.js';

const doc = (kind: string, service: string, body: Record<string, unknown>) => ({
  apiVersion: 'weft.dev/v1',
  kind,
  metadata: { service },
  ...body,
});

function applyPolicy(view: PolicyView, service: string, routes?: Record<string, unknown>, policy?: Record<string, unknown>): void {
  const bundle = {
    service,
    routes: routes && doc('Routes', service, routes),
    policy: policy && doc('ServicePolicy', service, policy),
  };
  const errors = view.apply(
    [{ name: `policy/${service}`, version: '1', body: 'policy', policy: { service, json: JSON.stringify(bundle) } }],
    [],
    [],
  );
  assert.deepEqual(errors, []);
}

describe('traffic policy enforcement', () => {
  const upstreams: Upstream[] = [];
  const held: ServerResponse[] = [];
  let proxy: Listener;
  const services: Record<string, Endpoint[]> = {};

  const start = async (name: string, handle: (res: ServerResponse, url: string) => void): Promise<Upstream> => {
    const u = await startUpstream((req, res) => {
      res.setHeader('x-served-by', name);
      handle(res, req.url ?? '');
    });
    upstreams.push(u);
    return u;
  };

  before(async () => {
    const failing = [await start('f1', (res) => res.writeHead(503).end()), await start('f2', (res) => res.writeHead(503).end())];
    services.orders = failing.map((u, i) => endpoint({ service: 'orders', port: u.port, instanceId: `f${i + 1}` }));
    const hung = await start('hung', () => {});
    const fast = await start('fast', (res) => res.end('ok'));
    services.slow = [
      endpoint({ service: 'slow', port: hung.port, instanceId: 'hung' }),
      endpoint({ service: 'slow', port: fast.port, instanceId: 'fast' }),
    ];
    const holder = await start('holder', (res) => held.push(res));
    services.held = [endpoint({ service: 'held', port: holder.port, instanceId: 'holder' })];
    const echo = await start('echo', (res) => res.end('ok'));
    services.edited = [endpoint({ service: 'edited', port: echo.port, instanceId: 'echo' })];
    services.sticky = [];
    for (const name of ['s1', 's2', 's3']) {
      const u = await start(name, (res) => res.end(name));
      services.sticky.push(endpoint({ service: 'sticky', port: u.port, instanceId: name }));
    }

    const view = new PolicyView(silentLogger);
    applyPolicy(view, 'orders', { rules: [{ match: { path: { prefix: '/no-retry' } }, retry: { attempts: 0 }, route: [{ weight: 1 }] }] });
    applyPolicy(
      view,
      'slow',
      {
        rules: [
          { timeout: '3s', perTryTimeout: '100ms', retry: { attempts: 2, backoff: { base: '1ms', max: '5ms' } }, route: [{ weight: 1 }] },
        ],
      },
      { loadBalancer: { policy: 'round-robin' } },
    );
    applyPolicy(view, 'held', undefined, { circuitBreaker: { maxRequests: 2 } });
    applyPolicy(view, 'edited', {
      rules: [{ requestHeaders: { set: { 'x-tenant': 'blue' }, remove: ['x-debug'] }, route: [{ weight: 1 }] }],
    });
    applyPolicy(view, 'sticky', undefined, { loadBalancer: { policy: 'consistent-hash', hashOn: { header: 'x-user' } } });
    proxy = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource(services),
      local: localInstances([]),
      logger: silentLogger,
      requestTimeoutMs: 10_000,
      host: '127.0.0.1',
      port: 0,
      policy: new OutboundPolicy(view),
    });
  });

  after(async () => {
    for (const res of held) res.end();
    await proxy.close();
    await Promise.all(upstreams.map((u) => u.close()));
  });

  const get = (service: string, path: string, headers: Record<string, string> = {}) =>
    send({ port: proxy.port, path, headers: { host: service, ...headers } });
  const seen = (service: string) =>
    upstreams.filter((u) => services[service]!.some((e) => e.port === u.port)).reduce((n, u) => n + u.seen.length, 0);

  it('does not retry a route with retry.attempts 0 (the default route still retries)', async () => {
    const r = await get('orders', '/no-retry/x');
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-weft-rule'], 'orders/0');
    assert.equal(seen('orders'), 1);
    await get('orders', '/other');
    assert.equal(seen('orders'), 1 + 3, 'the default: first try + 2 retries');
  });

  it('abandons a hung try after the rule’s perTryTimeout and retries elsewhere', async () => {
    // Round-robin makes every other request try the hung endpoint first; the rule's 3 s deadline is
    // shorter than the agent's default per-try timeout (5 s), so only the rule's 100 ms saves them.
    for (let i = 0; i < 4; i++) {
      const r = await get('slow', '/x');
      assert.equal(r.status, 200, `request ${i}: ${r.headers['x-weft-error'] ?? ''} ${r.body}`);
      assert.equal(r.headers['x-served-by'], 'fast');
    }
    assert.ok(
      upstreams.find((u) => u.seen.length > 0 && services.slow![0]!.port === u.port),
      'the hung endpoint was tried',
    );
  });

  it('answers circuit_open for the 3rd concurrent request when circuitBreaker.maxRequests is 2', async () => {
    const first = [get('held', '/1'), get('held', '/2')];
    const holder = upstreams.find((u) => u.port === services.held![0]!.port)!;
    while (holder.seen.length < 2) await new Promise((r) => setTimeout(r, 5));
    const third = await get('held', '/3');
    assert.equal(third.status, 503);
    assert.equal(third.headers['x-weft-error'], 'circuit_open');
    assert.match(third.body.toString(), /limit max-requests-per-service=2/);
    for (const res of held.splice(0)) res.end('done');
    for (const r of await Promise.all(first)) assert.equal(r.status, 200);
    // Once they finished, the service admits requests again.
    const fourth = get('held', '/4');
    while (holder.seen.length < 3) await new Promise((r) => setTimeout(r, 5));
    for (const res of held.splice(0)) res.end('done');
    assert.equal((await fourth).status, 200);
  });

  it("applies a rule's request header edits on the way upstream (set replaces, remove drops)", async () => {
    const r = await get('edited', '/x', { 'x-tenant': 'red', 'x-debug': '1', 'x-keep': 'k' });
    assert.equal(r.status, 200);
    const echo = upstreams.find((u) => u.port === services.edited![0]!.port)!;
    const h = echo.seen.at(-1)!.headers;
    assert.equal(h['x-tenant'], 'blue');
    assert.equal(h['x-debug'], undefined);
    assert.equal(h['x-keep'], 'k');
    assert.equal(h.host, 'edited');
  });

  it('keeps each user on one instance with consistent-hash on header x-user', async () => {
    const used = new Set<string>();
    for (let u = 0; u < 12; u++) {
      const by = new Set<string>();
      for (let i = 0; i < 4; i++) by.add(String((await get('sticky', '/', { 'x-user': `user-${u}` })).headers['x-served-by']));
      assert.equal(by.size, 1, `user-${u} went to ${[...by].join(', ')}`);
      used.add([...by][0]!);
    }
    assert.ok(used.size >= 2, 'users spread over the instances');
  });
});
