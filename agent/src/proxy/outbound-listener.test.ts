import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createLogger, type Endpoint, MeshError, silentLogger } from '@weft/shared';
import type { EndpointSource, Listener } from '../contracts.js';
import { isValidTraceparent } from './headers.js';
import { startOutboundListener } from './outbound-listener.js';
import { closedPort, endpoint, localInstances, send, sha256, startUpstream, staticSource, type Upstream } from './test-support.js';

async function outbound(endpoints: EndpointSource, requestTimeoutMs = 5_000): Promise<Listener> {
  return startOutboundListener({
    agentId: 'agent-a',
    endpoints,
    local: localInstances([]),
    logger: silentLogger,
    requestTimeoutMs,
    host: '127.0.0.1',
    port: 0,
  });
}

describe('outbound listener', () => {
  let echo: Upstream;
  let proxy: Listener;
  let deadPort: number;
  const services: Record<string, Endpoint[]> = {};

  before(async () => {
    // Echoes method, url, selected headers and the body's hash; streams the body back on /echo-body.
    echo = await startUpstream((req, res) => {
      if (req.url?.startsWith('/echo-body')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('connection', 'keep-alive, x-resp-secret');
        res.setHeader('x-resp-secret', 'hidden');
        res.setHeader('keep-alive', 'timeout=99');
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
      });
    });
    deadPort = await closedPort();
    services.orders = [endpoint({ port: echo.port })];
    services.critical = [
      endpoint({ service: 'critical', port: echo.port, health: 'critical' }),
      endpoint({ service: 'critical', port: echo.port, health: 'critical' }),
    ];
    services.dead = [endpoint({ service: 'dead', port: deadPort })];
    services.flaky = [endpoint({ service: 'flaky', port: deadPort }), endpoint({ service: 'flaky', port: echo.port })];
    // Only one of the two dead ones can be ejected (never more than half), so retries keep being exercised.
    services.flakier = [
      endpoint({ service: 'flakier', port: deadPort }),
      endpoint({ service: 'flakier', port: deadPort }),
      endpoint({ service: 'flakier', port: echo.port }),
    ];
    proxy = await outbound(staticSource(services, (s) => new MeshError('unknown_service', `service ${s} is not registered`)));
  });

  after(async () => {
    await proxy.close();
    await echo.close();
  });

  it('forwards a forward-proxy (absolute-form) request with path, query, body and headers intact', async () => {
    const res = await send({
      port: proxy.port,
      method: 'POST',
      path: 'http://Orders/items?id=7&x=%20y',
      headers: { host: 'orders', 'x-custom': 'yes', 'content-type': 'text/plain' },
      body: 'hello body',
    });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body.toString());
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/items?id=7&x=%20y');
    assert.equal(seen.body, 'hello body');
    assert.equal(seen.headers['x-custom'], 'yes');
    assert.equal(seen.headers['content-type'], 'text/plain');
    assert.equal(seen.headers.host, 'orders');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
  });

  it('takes the service from the request URL over the Host header', async () => {
    const res = await send({ port: proxy.port, path: 'http://orders/x', headers: { host: `127.0.0.1:${proxy.port}` } });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body.toString()).url, '/x');
  });

  it('forwards an origin-form request routed by Host', async () => {
    const res = await send({
      port: proxy.port,
      method: 'PUT',
      path: '/a/b?q=1',
      headers: { host: 'orders:8080', 'x-custom': 'h' },
      body: 'put-body',
    });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body.toString());
    assert.equal(seen.method, 'PUT');
    assert.equal(seen.url, '/a/b?q=1');
    assert.equal(seen.body, 'put-body');
    assert.equal(seen.headers.host, 'orders:8080');
    assert.equal(seen.headers['x-forwarded-host'], 'orders:8080');
  });

  it('streams a 5 MiB body both ways intact (content-length and chunked)', async () => {
    const payload = randomBytes(5 * 1024 * 1024);
    const sized = await send({ port: proxy.port, method: 'POST', path: '/echo-body', headers: { host: 'orders' }, body: payload });
    assert.equal(sized.status, 200);
    assert.equal(sized.body.length, payload.length);
    assert.equal(sha256(sized.body), sha256(payload));

    // Chunked upload written piece by piece.
    const chunked = await new Promise<Buffer>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: proxy.port, method: 'POST', path: '/echo-body', headers: { host: 'orders' }, agent: false },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve(Buffer.concat(parts)));
        },
      );
      req.on('error', reject);
      for (let off = 0; off < payload.length; off += 256 * 1024) req.write(payload.subarray(off, off + 256 * 1024));
      req.end();
    });
    assert.equal(sha256(chunked), sha256(payload));
  });

  it('handles Expect: 100-continue uploads (curl sends it for large bodies)', async () => {
    const payload = randomBytes(64 * 1024);
    const body = await new Promise<Buffer>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: proxy.port,
          method: 'POST',
          path: 'http://orders/echo-body',
          headers: { host: 'orders', expect: '100-continue', 'content-length': String(payload.length) },
          agent: false,
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve(Buffer.concat(parts)));
        },
      );
      req.on('continue', () => req.end(payload));
      req.on('error', reject);
    });
    assert.equal(sha256(body), sha256(payload));
  });

  it('answers HEAD without a body', async () => {
    const res = await send({ port: proxy.port, method: 'HEAD', path: '/head', headers: { host: 'orders' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
  });

  it('strips hop-by-hop headers both ways and adds forwarding headers', async () => {
    const res = await send({
      port: proxy.port,
      path: '/h',
      headers: {
        host: 'orders',
        connection: 'keep-alive, x-secret',
        'x-secret': 'drop me',
        'keep-alive': 'timeout=30',
        te: 'trailers',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        'x-forwarded-for': '10.9.8.7',
        'x-weft-instance': 'smuggled',
      },
    });
    assert.equal(res.status, 200);
    const h = JSON.parse(res.body.toString()).headers as Record<string, string>;
    for (const name of ['x-secret', 'keep-alive', 'te', 'proxy-authorization', 'x-weft-instance']) assert.equal(h[name], undefined, name);
    assert.match(h['x-forwarded-for']!, /^(::ffff:)?127\.0\.0\.1$/, "the app's own x-forwarded-for is replaced, not trusted");
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'orders');
    assert.ok(isValidTraceparent(h.traceparent!), h.traceparent);
    assert.ok(h['x-request-id']);
    assert.equal(res.headers['x-request-id'], h['x-request-id']);
    assert.equal(res.headers['x-resp-secret'], undefined);
    // Our own server may add its keep-alive header; the upstream's must not leak through.
    assert.notEqual(res.headers['keep-alive'], 'timeout=99');
  });

  it('carries traceparent and x-request-id unchanged', async () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await send({ port: proxy.port, path: '/t', headers: { host: 'orders', traceparent: tp, 'x-request-id': 'req-42' } });
    const h = JSON.parse(res.body.toString()).headers as Record<string, string>;
    assert.equal(h.traceparent, tp);
    assert.equal(h['x-request-id'], 'req-42');
    assert.equal(res.headers['x-request-id'], 'req-42');
  });

  it('answers 400 bad_request for a missing or invalid service host', async () => {
    for (const host of [`127.0.0.1:${proxy.port}`, 'bad_name', '']) {
      const res = await send({ port: proxy.port, path: '/', headers: { host } });
      assert.equal(res.status, 400, host);
      assert.equal(res.headers['x-weft-error'], 'bad_request');
      assert.match(res.headers['content-type']!, /^text\/plain/);
      assert.match(res.body.toString(), /host/);
    }
  });

  it('refuses CONNECT with 405 bad_request', async () => {
    const status = await new Promise<{ code: number; err?: string; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: proxy.port, method: 'CONNECT', path: 'orders:443', agent: false });
      req.on('connect', (res, socket) => {
        const parts: Buffer[] = [];
        socket.on('data', (c: Buffer) => parts.push(c));
        socket.on('end', () =>
          resolve({ code: res.statusCode ?? 0, err: res.headers['x-weft-error'] as string, body: Buffer.concat(parts).toString() }),
        );
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status.code, 405);
    assert.equal(status.err, 'bad_request');
  });

  it('answers 404 unknown_service when the source rejects with unknown_service', async () => {
    const res = await send({ port: proxy.port, path: '/', headers: { host: 'nosuch' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers['x-weft-error'], 'unknown_service');
    assert.match(res.body.toString(), /nosuch/);
  });

  it('answers 503 no_healthy_endpoint when every endpoint is critical', async () => {
    const res = await send({ port: proxy.port, path: '/', headers: { host: 'critical' } });
    assert.equal(res.status, 503);
    assert.equal(res.headers['x-weft-error'], 'no_healthy_endpoint');
    assert.match(res.body.toString(), /critical: .*2 endpoints: 2 critical/);
  });

  it('answers 502 upstream_connect_failed for a closed port', async () => {
    const res = await send({ port: proxy.port, method: 'POST', path: '/', headers: { host: 'dead' }, body: 'x'.repeat(1000) });
    assert.equal(res.status, 502);
    assert.equal(res.headers['x-weft-error'], 'upstream_connect_failed');
    assert.match(res.body.toString(), new RegExp(`dead: instance .* at 127\\.0\\.0\\.1:${deadPort}: connection failed`));
  });

  it('retries a GET on another endpoint when one is dead', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await send({ port: proxy.port, path: `/r${i}`, headers: { host: 'flaky' } });
      assert.equal(res.status, 200, res.body.toString());
    }
  });

  it('retries idempotent requests past two dead endpoints', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await send({ port: proxy.port, method: i % 2 ? 'GET' : 'DELETE', path: `/r${i}`, headers: { host: 'flakier' } });
      assert.equal(res.status, 200, res.body.toString());
    }
  });

  it('answers 400 for an invalid x-weft-timeout-ms', async () => {
    const res = await send({ port: proxy.port, path: '/', headers: { host: 'orders', 'x-weft-timeout-ms': 'soon' } });
    assert.equal(res.status, 400);
    assert.match(res.body.toString(), /x-weft-timeout-ms/);
  });
});

describe('outbound listener deadlines and failures', () => {
  it('answers 504 upstream_timeout when the upstream never answers', async () => {
    const hang = await startUpstream(() => {});
    const proxy = await outbound(staticSource({ slow: [endpoint({ service: 'slow', port: hang.port })] }), 300);
    try {
      const res = await send({ port: proxy.port, path: '/', headers: { host: 'slow' } });
      assert.equal(res.status, 504);
      assert.equal(res.headers['x-weft-error'], 'upstream_timeout');
      assert.match(res.body.toString(), /slow: .*300 ms/);
      // A per-request header shortens the deadline further.
      const quick = await send({ port: proxy.port, path: '/', headers: { host: 'slow', 'x-weft-timeout-ms': '50' } });
      assert.equal(quick.status, 504);
      assert.match(quick.body.toString(), /50 ms/);
    } finally {
      await proxy.close();
      await hang.close();
    }
  });

  it('answers 502 upstream_reset when the upstream drops the connection before answering', async () => {
    const rude = await startUpstream((req) => req.socket.destroy());
    const proxy = await outbound(staticSource({ rude: [endpoint({ service: 'rude', port: rude.port })] }));
    try {
      const res = await send({ port: proxy.port, method: 'POST', path: '/', headers: { host: 'rude' }, body: 'b' });
      assert.equal(res.status, 502);
      assert.equal(res.headers['x-weft-error'], 'upstream_reset');
    } finally {
      await proxy.close();
      await rude.close();
    }
  });

  it('cuts the client response when the upstream dies mid-body', async () => {
    const partial = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(100), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const proxy = await outbound(staticSource({ partial: [endpoint({ service: 'partial', port: partial.port })] }));
    try {
      await assert.rejects(send({ port: proxy.port, path: '/', headers: { host: 'partial' } }));
    } finally {
      await proxy.close();
      await partial.close();
    }
  });

  it('aborts the upstream request when the client goes away', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => {
      upstreamClosed = resolve;
    });
    const hang = await startUpstream((_req, res) => res.on('close', () => upstreamClosed()));
    const proxy = await outbound(staticSource({ hang: [endpoint({ service: 'hang', port: hang.port })] }));
    try {
      const req = request({ host: '127.0.0.1', port: proxy.port, path: '/', headers: { host: 'hang' }, agent: false });
      req.on('error', () => {});
      req.end();
      while (hang.seen.length === 0) await new Promise((r) => setTimeout(r, 10));
      req.destroy();
      await closed;
    } finally {
      await proxy.close();
      await hang.close();
    }
  });
});

describe('outbound listener: logs of failed requests', () => {
  it('logs the first 10 failures per code and service, then one line with the count (written at close at the latest)', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({}, { level: 'info', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const proxy = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource({}, (s) => new MeshError('unknown_service', `service ${s} is not registered`)),
      local: localInstances([]),
      logger,
      requestTimeoutMs: 5_000,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      for (let i = 0; i < 40; i++) {
        const res = await send({ port: proxy.port, path: '/', headers: { host: 'nosuch', 'x-request-id': `req-${i}` } });
        assert.equal(res.headers['x-weft-error'], 'unknown_service', 'every request is answered, logged or not');
      }
    } finally {
      await proxy.close();
    }
    const failed = lines.filter((l) => l.msg === 'request failed');
    assert.deepEqual(
      failed.map((l) => [l.code, l.service, l.requestId]),
      Array.from({ length: 10 }, (_, i) => ['unknown_service', 'nosuch', `req-${i}`]),
    );
    const summary = lines.filter((l) => l.msg === 'request log lines suppressed');
    assert.deepEqual(
      summary.map((l) => [l.listener, l.of, l.code, l.service, l.suppressed]),
      [['outbound', 'request failed', 'unknown_service', 'nosuch', 30]],
    );
  });
});
