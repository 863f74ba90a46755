import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@weft/shared';
import type { Listener } from '../contracts.js';
import { startInboundListener } from './inbound-listener.js';
import { startOutboundListener } from './outbound-listener.js';
import { closedPort, endpoint, localInstances, send, sha256, startUpstream, staticSource, type Upstream } from './test-support.js';

describe('outbound -> inbound -> upstream', () => {
  let app: Upstream;
  let inbound: Listener;
  let outbound: Listener;
  let deadPort: number;

  before(async () => {
    app = await startUpstream((req, res) => {
      if (req.url === '/echo-body') {
        req.pipe(res);
        return;
      }
      req.resume();
      req.on('end', () => res.end(JSON.stringify({ url: req.url, headers: req.headers })));
    });
    deadPort = await closedPort();
    inbound = await startInboundListener({
      agentId: 'agent-b',
      endpoints: staticSource({}),
      local: localInstances([
        { instanceId: 'orders-b1', service: 'orders', address: '127.0.0.1', port: app.port },
        { instanceId: 'orders-dead', service: 'orders', address: '127.0.0.1', port: deadPort },
      ]),
      logger: silentLogger,
      requestTimeoutMs: 5_000,
      host: '127.0.0.1',
      port: 0,
    });
    const remote = { agentId: 'agent-b', agentAddress: '127.0.0.1', agentPort: inbound.port };
    outbound = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource({
        orders: [endpoint({ ...remote, instanceId: 'orders-b1', port: 9 })],
        // The peer does not know "ghost": it answers unknown_instance and we retry elsewhere.
        mixed: [
          endpoint({ ...remote, service: 'mixed', instanceId: 'ghost', port: 9 }),
          endpoint({ ...remote, service: 'mixed', instanceId: 'orders-b1', port: 9 }),
        ],
        ghost: [endpoint({ ...remote, service: 'ghost', instanceId: 'ghost', port: 9 })],
        deadbehind: [endpoint({ ...remote, service: 'deadbehind', instanceId: 'orders-dead', port: 9 })],
      }),
      local: localInstances([]),
      logger: silentLogger,
      requestTimeoutMs: 5_000,
      host: '127.0.0.1',
      port: 0,
    });
  });

  after(async () => {
    await outbound.close();
    await inbound.close();
    await app.close();
  });

  it('hands the request to the named instance and removes mesh headers', async () => {
    const res = await send({ port: outbound.port, path: 'http://orders/p?q=1', headers: { host: 'orders', 'x-request-id': 'r-1' } });
    assert.equal(res.status, 200, res.body.toString());
    const seen = JSON.parse(res.body.toString());
    assert.equal(seen.url, '/p?q=1');
    assert.equal(seen.headers.host, 'orders');
    assert.equal(seen.headers['x-weft-instance'], undefined);
    assert.equal(seen.headers['x-weft-timeout-ms'], undefined);
    assert.equal(seen.headers['x-request-id'], 'r-1');
    assert.equal(seen.headers['x-forwarded-host'], 'orders');
    assert.equal(seen.headers['x-forwarded-for'].split(',').length, 2);
    assert.equal(res.headers['x-request-id'], 'r-1');
  });

  it('streams a 5 MiB body through both hops', async () => {
    const payload = randomBytes(5 * 1024 * 1024);
    const res = await send({ port: outbound.port, method: 'POST', path: '/echo-body', headers: { host: 'orders' }, body: payload });
    assert.equal(res.status, 200);
    assert.equal(sha256(res.body), sha256(payload));
  });

  it('retries on another endpoint when the peer answers unknown_instance', async () => {
    for (let i = 0; i < 8; i++) {
      const res = await send({ port: outbound.port, path: '/', headers: { host: 'mixed' } });
      assert.equal(res.status, 200, res.body.toString());
    }
  });

  it("passes the peer's own mesh error through unchanged", async () => {
    const res = await send({ port: outbound.port, path: '/', headers: { host: 'ghost' } });
    assert.equal(res.status, 503);
    assert.equal(res.headers['x-weft-error'], 'unknown_instance');
    assert.match(res.body.toString(), /instance ghost: not registered on this host \(agent agent-b\)/);

    const dead = await send({ port: outbound.port, method: 'POST', path: '/', headers: { host: 'deadbehind' }, body: 'x' });
    assert.equal(dead.status, 502);
    assert.equal(dead.headers['x-weft-error'], 'upstream_connect_failed');
    assert.match(dead.body.toString(), /orders-dead at 127\.0\.0\.1/);
  });

  it('answers 400 when x-weft-instance is missing and 503 for an unknown instance', async () => {
    const missing = await send({ port: inbound.port, path: '/', headers: { host: 'orders' } });
    assert.equal(missing.status, 400);
    assert.equal(missing.headers['x-weft-error'], 'bad_request');
    const unknown = await send({ port: inbound.port, path: '/', headers: { host: 'orders', 'x-weft-instance': 'nope' } });
    assert.equal(unknown.status, 503);
    assert.equal(unknown.headers['x-weft-error'], 'unknown_instance');
  });
});

describe('inbound listener timeouts', () => {
  it('answers 504 upstream_timeout when the local instance never answers', async () => {
    const hang = await startUpstream(() => {});
    const inbound = await startInboundListener({
      agentId: 'agent-b',
      endpoints: staticSource({}),
      local: localInstances([{ instanceId: 'h1', service: 'hang', address: '127.0.0.1', port: hang.port }]),
      logger: silentLogger,
      requestTimeoutMs: 200,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const res = await send({ port: inbound.port, path: '/', headers: { host: 'hang', 'x-weft-instance': 'h1' } });
      assert.equal(res.status, 504);
      assert.equal(res.headers['x-weft-error'], 'upstream_timeout');
    } finally {
      await inbound.close();
      await hang.close();
    }
  });
});
