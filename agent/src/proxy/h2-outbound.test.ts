import assert from 'node:assert/strict';
import { connect, createServer, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Endpoint, MeshError, MeshErrorCode, silentLogger } from '@weft/shared';
import type { Listener } from '../contracts.js';
import { encodeGrpcMessage, formatGrpcTimeout, GrpcStatus, grpcStatusOf, parseGrpcTimeout } from './grpc-status.js';
import { grpcMessageCount } from './h2-body.js';
import { startInboundListener } from './inbound-listener.js';
import { startOutboundListener } from './outbound-listener.js';
import { closedPort, endpoint, localInstances, send, staticSource } from './test-support.js';

interface H2Answer {
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: IncomingHttpHeaders | undefined;
}

function h2request(port: number, headers: Record<string, string>, body?: Buffer): Promise<H2Answer> {
  const session = connect(`http://127.0.0.1:${port}`);
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': body ? 'POST' : 'GET', ...headers }, { endStream: body === undefined });
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      head = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      session.close();
      resolve({ headers: head, body: Buffer.concat(chunks), trailers });
    });
    req.on('error', (err) => {
      session.destroy();
      reject(err);
    });
    if (body) req.end(body);
  });
}

describe('HTTP/2 on the outbound listener (h2c, one agent)', () => {
  let upstream: Http2Server;
  let proxy: Listener;
  let inbound: Listener;
  const services: Record<string, Endpoint[]> = {};

  before(async () => {
    upstream = createServer();
    upstream.on('stream', (stream, headers) => {
      const path = headers[':path'];
      if (path === '/trailers') {
        stream.respond({ ':status': 200, 'x-head': 'h' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 't' }));
        stream.end('with trailers');
        return;
      }
      if (path === '/grpc.Echo/Unary') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.resume();
        stream.on('end', () => stream.end(Buffer.from([0, 0, 0, 0, 2, 111, 107])));
        return;
      }
      if (path === '/upload') {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          stream.respond({ ':status': 200 });
          stream.end(String(Buffer.concat(chunks).length));
        });
        return;
      }
      stream.respond({ ':status': 200, 'x-seen-authority': String(headers[':authority']), 'x-seen-rid': String(headers['x-request-id']) });
      stream.end('hello over h2');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    const dead = await closedPort();
    services.h2svc = [endpoint({ service: 'h2svc', port, protocol: 'http2' })];
    services.h1svc = [endpoint({ service: 'h1svc', port, protocol: 'http' })];
    services.dead = [endpoint({ service: 'dead', port: dead, protocol: 'grpc' })];
    // Behind a peer agent (agent-b): one real instance, and one the peer does not know (deregistered).
    inbound = await startInboundListener({
      agentId: 'agent-b',
      endpoints: staticSource({}),
      local: localInstances([{ instanceId: 'pair-1', service: 'pair', address: '127.0.0.1', port, protocol: 'grpc' }]),
      logger: silentLogger,
      requestTimeoutMs: 5000,
      host: '127.0.0.1',
      port: 0,
    });
    const viaB = { agentId: 'agent-b', agentPort: inbound.port, protocol: 'grpc' as const };
    services.pair = [
      endpoint({ service: 'pair', instanceId: 'pair-1', port: 1, ...viaB }),
      endpoint({ service: 'pair', instanceId: 'pair-ghost', port: 1, ...viaB }),
    ];
    services.ghost = [endpoint({ service: 'ghost', instanceId: 'ghost-1', port: 1, ...viaB })];
    proxy = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource(services, (s) => new MeshError(MeshErrorCode.unknownService, `no service ${s}`)),
      local: localInstances([]),
      logger: silentLogger,
      requestTimeoutMs: 5000,
      host: '127.0.0.1',
      port: 0,
    });
  });
  after(async () => {
    await proxy.close();
    await inbound.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('forwards an h2c request named by :authority to an HTTP/2 instance and streams the answer back', async () => {
    const r = await h2request(proxy.port, { ':path': '/x', ':authority': 'h2svc' });
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.body.toString(), 'hello over h2');
    assert.equal(r.headers['x-seen-authority'], 'h2svc');
    assert.ok(r.headers['x-request-id'], 'the request id comes back');
    assert.equal(r.headers['x-seen-rid'], r.headers['x-request-id']);
  });

  it('carries response trailers and request bodies', async () => {
    const t = await h2request(proxy.port, { ':path': '/trailers', ':authority': 'h2svc' });
    assert.equal(t.body.toString(), 'with trailers');
    assert.equal(t.trailers?.['x-trailer'], 't');
    const u = await h2request(proxy.port, { ':path': '/upload', ':authority': 'h2svc' }, Buffer.alloc(3 * 1024 * 1024, 1));
    assert.equal(u.body.toString(), String(3 * 1024 * 1024));
  });

  it('still serves HTTP/1.1 on the same port', async () => {
    const r = await send({ port: proxy.port, path: '/', headers: { host: 'nobody' } });
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-weft-error'], 'unknown_service');
  });

  it('refuses a gRPC call to an HTTP/1.1 instance: UNIMPLEMENTED, protocol_not_translatable', async () => {
    const r = await h2request(proxy.port, {
      ':path': '/grpc.Echo/Unary',
      ':authority': 'h1svc',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['grpc-status'], String(GrpcStatus.UNIMPLEMENTED));
    assert.equal(r.headers['x-weft-error'], 'protocol_not_translatable');
    assert.match(decodeURIComponent(String(r.headers['grpc-message'])), /gRPC call cannot be carried to an HTTP\/1.1 instance/);
  });

  it("retries a gRPC call elsewhere when the peer agent's own answer says it did not deliver it", async () => {
    const grpc = { 'content-type': 'application/grpc', te: 'trailers' };
    for (let i = 0; i < 10; i++) {
      const r = await h2request(
        proxy.port,
        { ':path': '/grpc.Echo/Unary', ':authority': 'pair', ...grpc },
        Buffer.from([0, 0, 0, 0, 1, 120]),
      );
      assert.equal(r.headers['x-weft-error'], undefined, `call ${i}`);
      assert.equal(r.trailers?.['grpc-status'], '0', `call ${i}`);
      assert.ok(r.body.equals(Buffer.from([0, 0, 0, 0, 2, 111, 107])));
    }
    // With nowhere else to go, the peer's answer reaches the client as a gRPC status, without the peer's mark.
    const g = await h2request(
      proxy.port,
      { ':path': '/grpc.Echo/Unary', ':authority': 'ghost', ...grpc },
      Buffer.from([0, 0, 0, 0, 1, 120]),
    );
    assert.equal(g.headers['grpc-status'], String(GrpcStatus.UNAVAILABLE));
    assert.equal(g.headers['x-weft-error'], 'unknown_instance');
    assert.equal(g.headers['x-weft-answered-by'], undefined);
  });

  it('answers a gRPC call it cannot deliver trailers-only with grpc-status, grpc-message and x-weft-error', async () => {
    const grpc = { 'content-type': 'application/grpc', te: 'trailers' };
    const dead = await h2request(proxy.port, { ':path': '/a.B/C', ':authority': 'dead', ...grpc }, Buffer.alloc(5));
    assert.equal(dead.headers[':status'], 200);
    assert.equal(dead.headers['grpc-status'], String(GrpcStatus.UNAVAILABLE));
    assert.equal(dead.headers['x-weft-error'], 'upstream_connect_failed');
    assert.match(decodeURIComponent(String(dead.headers['grpc-message'])), /connection failed/);
    assert.equal(dead.body.length, 0);
    const unknown = await h2request(proxy.port, { ':path': '/a.B/C', ':authority': 'nobody', ...grpc }, Buffer.alloc(5));
    assert.equal(unknown.headers['grpc-status'], String(GrpcStatus.UNIMPLEMENTED));
    const badTimeout = await h2request(
      proxy.port,
      { ':path': '/a.B/C', ':authority': 'dead', 'grpc-timeout': '5x', ...grpc },
      Buffer.alloc(5),
    );
    assert.equal(badTimeout.headers['grpc-status'], String(GrpcStatus.INTERNAL));
    assert.equal(badTimeout.headers['x-weft-error'], 'bad_request');
  });
});

describe('gRPC details', () => {
  it('maps every mesh code to a gRPC status, new codes by their HTTP status', () => {
    assert.equal(grpcStatusOf(MeshErrorCode.noHealthyEndpoint), GrpcStatus.UNAVAILABLE);
    assert.equal(grpcStatusOf(MeshErrorCode.upstreamTimeout), GrpcStatus.DEADLINE_EXCEEDED);
    assert.equal(grpcStatusOf(MeshErrorCode.rateLimited), GrpcStatus.RESOURCE_EXHAUSTED);
    assert.equal(grpcStatusOf('forbidden'), GrpcStatus.PERMISSION_DENIED);
    assert.equal(grpcStatusOf(MeshErrorCode.unknownService), GrpcStatus.UNIMPLEMENTED);
    assert.equal(grpcStatusOf(MeshErrorCode.faultInjected, 503), GrpcStatus.UNAVAILABLE);
    assert.equal(grpcStatusOf('some_new_code', 403), GrpcStatus.PERMISSION_DENIED);
    for (const code of Object.values(MeshErrorCode)) assert.notEqual(grpcStatusOf(code), GrpcStatus.OK, code);
  });

  it('reads and writes grpc-timeout', () => {
    assert.equal(parseGrpcTimeout('250m'), 250);
    assert.equal(parseGrpcTimeout('2S'), 2000);
    assert.equal(parseGrpcTimeout('1H'), 3_600_000);
    assert.equal(parseGrpcTimeout('5000000n'), 5);
    assert.equal(parseGrpcTimeout(undefined), undefined);
    assert.ok(Number.isNaN(parseGrpcTimeout('123456789m')));
    assert.ok(Number.isNaN(parseGrpcTimeout('-1m')));
    assert.equal(formatGrpcTimeout(249.2), '250m');
    assert.equal(formatGrpcTimeout(0), '1m');
    assert.equal(formatGrpcTimeout(200_000_000), '200000S');
  });

  it('percent-encodes grpc-message', () => {
    assert.equal(encodeGrpcMessage('a b%c'), 'a b%25c');
    assert.equal(encodeGrpcMessage('é\n'), '%C3%A9%0A');
  });

  it('counts gRPC messages in a body, a partial one included', () => {
    const msg = (n: number) => Buffer.concat([Buffer.from([0, 0, 0, 0, n]), Buffer.alloc(n)]);
    assert.equal(grpcMessageCount([msg(3)]), 1);
    assert.equal(grpcMessageCount([msg(3), msg(0), msg(7)]), 3);
    assert.equal(grpcMessageCount([Buffer.concat([msg(3), msg(4)]).subarray(0, 10)]), 2);
    assert.equal(grpcMessageCount([]), 0);
  });
});

describe('closing a listener with HTTP/2 calls in flight', () => {
  it('lets a call in flight finish (GOAWAY, no new streams) and then closes', async () => {
    const upstream = createServer();
    upstream.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.write('first ');
      setTimeout(() => stream.end('last'), 300);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    const proxy = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource({ slow: [endpoint({ service: 'slow', port, protocol: 'http2' })] }),
      local: localInstances([]),
      logger: silentLogger,
      requestTimeoutMs: 5000,
      host: '127.0.0.1',
      port: 0,
    });
    const session = connect(`http://127.0.0.1:${proxy.port}`);
    try {
      const req = session.request({ ':path': '/', ':authority': 'slow' });
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      const ended = new Promise((r) => req.on('end', r));
      await new Promise((r) => req.once('response', r));
      const started = Date.now();
      const closed = proxy.close();
      await ended;
      assert.equal(body, 'first last', 'the call in flight completes');
      await closed;
      assert.ok(Date.now() - started >= 200, 'close waited for the call');
    } finally {
      session.destroy();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });
});
