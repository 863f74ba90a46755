/**
 * Exact framing through the proxy (RFC 9112 §6), with scripted raw
 * upstreams: an upstream that breaks framing gets the client a
 * 502 upstream_protocol_error and its connection is never reused; requests
 * with framing the proxy will not repeat are refused before anything is sent
 * upstream; a request body that turns out malformed after its head was
 * forwarded aborts the upstream request instead of completing it.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { silentLogger } from '@weft/shared';
import { rawExchange } from './fault-upstreams.js';
import { startInboundListener } from './inbound-listener.js';
import { startOutboundListener } from './outbound-listener.js';
import { endpoint, localInstances, send, startUpstream, staticSource } from './test-support.js';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

interface Scripted {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Every byte received, per connection. */
  received: string[];
  /** Connections the proxy closed (or reset). */
  closedByPeer: number;
}

/** A raw upstream that answers each request head with `answer(n)` (n = request count) and keeps the connection open. */
async function scripted(answer: (n: number) => string | Buffer): Promise<Scripted> {
  const sockets = new Set<Socket>();
  const s: Scripted = { port: 0, connections: 0, received: [], closedByPeer: 0 };
  let requests = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    const index = s.connections++;
    s.received[index] = '';
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      s.closedByPeer++;
    });
    socket.on('data', (chunk: Buffer) => {
      s.received[index] += chunk.toString('latin1');
      // One answer per request head seen (the tests send small requests).
      const heads = s.received[index]!.split('\r\n\r\n').length - 1;
      while (requests < heads + countBefore(index)) socket.write(answer(requests++));
    });
  });
  const countBefore = (index: number) => s.received.slice(0, index).reduce((n, r) => n + r.split('\r\n\r\n').length - 1, 0);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  s.port = (server.address() as AddressInfo).port;
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const k of sockets) k.destroy();
        server.close(() => resolve());
      }),
  );
  return s;
}

async function outbound(port: number, maxRequestBodyBytes?: number): Promise<number> {
  const listener = await startOutboundListener({
    agentId: 'agent-a',
    endpoints: staticSource({ up: [endpoint({ service: 'up', port })] }),
    local: localInstances([]),
    logger: silentLogger,
    requestTimeoutMs: 3_000,
    host: '127.0.0.1',
    port: 0,
    limits: maxRequestBodyBytes === undefined ? undefined : { maxRequestBodyBytes },
  });
  cleanup.push(() => listener.close());
  return listener.port;
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

describe('upstream responses with broken framing', () => {
  const cases: [string, string][] = [
    [
      'Content-Length with Transfer-Encoding',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    ],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc'],
    ['an invalid Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok'],
    ['a body longer than declared (bytes after the end)', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n'],
    ['a complete head of 100 KB', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(100_000)}\r\nContent-Length: 2\r\n\r\nok`],
  ];
  for (const [what, bad] of cases) {
    it(`answers 502 upstream_protocol_error for ${what}, and never reuses that connection`, async () => {
      const up = await scripted((n) => (n === 0 ? bad : OK));
      const port = await outbound(up.port);
      const first = await send({ port, path: '/', headers: { host: 'up' } });
      assert.equal(first.status, 502, first.body.toString());
      assert.equal(first.headers['x-weft-error'], 'upstream_protocol_error');
      assert.match(first.body.toString(), /invalid HTTP\/1\.1 response/);
      const second = await send({ port, path: '/', headers: { host: 'up' } });
      assert.equal(second.status, 200);
      assert.equal(second.body.toString(), 'ok');
      assert.equal(up.connections, 2, 'the broken connection was closed, the next request opened a new one');
    });
  }

  it('answers 502 upgrade_not_supported when the upstream switches protocols unasked', async () => {
    const up = await scripted(() => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n');
    const port = await outbound(up.port);
    const r = await send({ port, path: '/', headers: { host: 'up' } });
    assert.equal(r.status, 502);
    assert.equal(r.headers['x-weft-error'], 'upgrade_not_supported');
  });

  it('forwards a chunked or close-delimited answer without a Content-Length', async () => {
    const chunked = await scripted(() => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    const r = await send({ port: await outbound(chunked.port), path: '/', headers: { host: 'up' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello');
    assert.equal(r.headers['content-length'], undefined);
    const closing = await startUpstream((_req, res) => {
      // HTTP/1.0-style: no length, the end of the body is the end of the connection.
      res.socket?.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close');
    });
    cleanup.push(() => closing.close());
    const c = await send({ port: await outbound(closing.port), path: '/', headers: { host: 'up' } });
    assert.equal(c.status, 200);
    assert.equal(c.body.toString(), 'until close');
    assert.equal(c.headers['content-length'], undefined);
  });
});

describe('requests the proxy will not repeat', () => {
  for (const te of ['gzip, chunked', 'chunked, chunked', 'identity', 'chunked;q=1']) {
    it(`refuses Transfer-Encoding: ${te} with 400 before anything reaches the upstream`, async () => {
      const up = await scripted(() => OK);
      const port = await outbound(up.port);
      const r = await rawExchange(port, [`POST / HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: ${te}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`]);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.headers['x-weft-error'], 'bad_request');
      assert.equal(up.connections, 0);
    });
  }

  it('refuses a Content-Length over the body limit with 413 body_too_large before anything reaches the upstream', async () => {
    const up = await scripted(() => OK);
    const port = await outbound(up.port, 1024);
    const r = await rawExchange(port, ['POST / HTTP/1.1\r\nHost: up\r\nContent-Length: 4096\r\n\r\n']);
    assert.equal(r.status, 413, r.text);
    assert.equal(r.headers['x-weft-error'], 'body_too_large');
    assert.equal(up.connections, 0);
  });

  it('aborts the upstream request when a chunked body turns malformed after its head was forwarded', async () => {
    // An upstream that waits for the whole body before answering (writes nothing).
    const up = await scripted(() => '');
    const port = await outbound(up.port);
    await rawExchange(port, ['POST / HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 'zz\r\nnot a chunk\r\n'], {
      gapMs: 150,
      waitMs: 500,
    });
    assert.equal(up.connections, 1, 'the head and first chunk were forwarded');
    assert.match(up.received[0]!, /hello/);
    assert.doesNotMatch(up.received[0]!, /0\r\n\r\n$/, 'the upstream never saw a terminated body');
    assert.equal(up.closedByPeer, 1, 'the upstream connection was cut');
  });
});

describe('inbound targets', () => {
  it('hands an absolute-form target to the app as its origin-form path, and refuses OPTIONS *', async () => {
    const app = await startUpstream((req, res) => res.end(req.url));
    cleanup.push(() => app.close());
    const inbound = await startInboundListener({
      agentId: 'agent-b',
      endpoints: staticSource({}),
      local: localInstances([{ instanceId: 'o1', service: 'orders', address: '127.0.0.1', port: app.port }]),
      logger: silentLogger,
      requestTimeoutMs: 3_000,
      host: '127.0.0.1',
      port: 0,
    });
    cleanup.push(() => inbound.close());
    const abs = await rawExchange(inbound.port, ['GET http://orders/a/../b?q=1 HTTP/1.1\r\nHost: orders\r\nx-weft-instance: o1\r\n\r\n'], {
      waitMs: 500,
    });
    assert.equal(abs.status, 200, abs.text);
    assert.ok(abs.text.endsWith('/a/../b?q=1'), abs.text);
    const star = await rawExchange(inbound.port, ['OPTIONS * HTTP/1.1\r\nHost: orders\r\nx-weft-instance: o1\r\n\r\n'], { waitMs: 500 });
    assert.equal(star.status, 400, star.text);
    assert.equal(star.headers['x-weft-error'], 'bad_request');
    assert.equal(app.seen.length, 1, 'OPTIONS * never reached the app');
  });
});
