import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type AgentProc, echoHandler, Mesh, registerWith, send, sha256, viaProxy, waitFor } from './harness.js';

describe('the mesh path: app -> agent A -> agent B -> service', () => {
  const mesh = new Mesh();
  let a: AgentProc;

  before(async () => {
    const cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
    const b = await mesh.agent('agent-b', cp.grpcPort);
    const orders = await mesh.service((req, res) => {
      if (req.url === '/download') {
        // Streams 8 MiB in 64 KiB chunks, so the proxy must stream it back.
        res.setHeader('content-type', 'application/octet-stream');
        const chunk = Buffer.alloc(64 * 1024, 7);
        let left = 128;
        const pump = () => {
          while (left > 0) {
            left--;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      echoHandler('orders-1')(req, res);
    });
    await registerWith(b, { name: 'orders', port: orders.port, id: 'orders-1' });
  });
  after(() => mesh.close());

  test('a request through agent A reaches the instance behind agent B with body and headers intact', async () => {
    const body = JSON.stringify({ item: 'book', qty: 2 });
    const r = await waitFor('orders to be routable', async () => {
      const res = await viaProxy(a.outboundPort, 'http://orders/orders/42?expand=items', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-custom': 'kept',
          traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        },
        body,
      });
      return res.status === 200 ? res : undefined;
    });
    const echoed = JSON.parse(r.body.toString());
    assert.equal(echoed.instance, 'orders-1');
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.url, '/orders/42?expand=items');
    assert.equal(echoed.sha256, sha256(Buffer.from(body)));
    assert.equal(echoed.headers['x-custom'], 'kept');
    assert.equal(echoed.headers['content-type'], 'application/json');
    assert.equal(echoed.headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.match(String(echoed.headers['x-forwarded-for']), /127\.0\.0\.1/);
    assert.ok(echoed.headers['x-request-id'], 'a request id is added');
    assert.equal(echoed.headers['x-weft-instance'], undefined, 'mesh-internal header is removed before the app');
    assert.equal(echoed.headers['proxy-connection'], undefined);
    assert.equal(r.headers['x-served-by'], 'orders-1');
  });

  test('a Host header on a plain request works like the forward-proxy form', async () => {
    const r = await send({ port: a.outboundPort, path: '/plain', headers: { host: 'orders' } });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body.toString()).url, '/plain');
  });

  test('streams a large body both ways', async () => {
    const upload = randomBytes(16 * 1024 * 1024);
    const r = await viaProxy(a.outboundPort, 'http://orders/upload', {
      method: 'PUT',
      body: upload,
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(r.status, 200);
    const echoed = JSON.parse(r.body.toString());
    assert.equal(echoed.bytes, upload.length);
    assert.equal(echoed.sha256, sha256(upload));
    const down = await viaProxy(a.outboundPort, 'http://orders/download');
    assert.equal(down.status, 200);
    assert.equal(down.body.length, 8 * 1024 * 1024);
    assert.ok(down.body.every((b) => b === 7));
  });

  test('an unknown service gets x-weft-error: unknown_service and a readable body', async () => {
    const r = await viaProxy(a.outboundPort, 'http://no-such-service/');
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-weft-error'], 'unknown_service');
    assert.match(r.body.toString(), /no-such-service/);
  });
});
