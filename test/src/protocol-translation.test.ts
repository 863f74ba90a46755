/**
 * Translation between HTTP/1.1 and HTTP/2 (docs/protocols.md): the agent that
 * hands a request to an instance speaks the instance's protocol, both when
 * the instance is behind a peer agent (agent B translates; the mesh hop keeps
 * the caller's protocol) and when it is on the caller's own agent (agent A
 * translates). Where no faithful translation exists the mesh answers with a
 * code naming the cause: a gRPC call to an HTTP/1.1 instance (UNIMPLEMENTED,
 * protocol_not_translatable), a WebSocket upgrade to an HTTP/2 instance
 * (upgrade_not_supported). Real agents, a real node:http app, a real
 * node:http2 app and a real grpc-js client.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createH1Server, type IncomingHttpHeaders, request, type Server } from 'node:http';
import { connect, createServer as createH2Server, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import grpc from '@grpc/grpc-js';
import { echoClient } from './grpc-service.js';
import { type AgentProc, Mesh, registerWith, waitFor } from './harness.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Seen {
  method: string;
  path: string;
  authority: string;
  bytes: number;
  sha: string;
  proto: string;
}

/** HTTP/1.1 app: answers what it saw as JSON, with two set-cookie fields and a chunked body. */
async function startH1App(): Promise<{ server: Server; port: number; requests: number }> {
  const app = { server: createH1Server(), port: 0, requests: 0 };
  app.server.on('request', (req, res) => {
    app.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const seen: Seen = {
        method: req.method ?? '',
        path: req.url ?? '',
        authority: req.headers.host ?? '',
        bytes: body.length,
        sha: sha(body),
        proto: `HTTP/${req.httpVersion}`,
      };
      res.writeHead(200, { 'content-type': 'application/json', 'x-app': 'h1', 'set-cookie': ['a=1', 'b=2'] });
      // Written in two pieces without a length: the HTTP/1.1 answer is chunked.
      const text = JSON.stringify(seen);
      res.write(text.slice(0, 5));
      res.end(text.slice(5));
    });
  });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  app.port = (app.server.address() as AddressInfo).port;
  return app;
}

/** HTTP/2 (h2c) app: answers what it saw as JSON, with status 201 and a trailer. */
async function startH2App(): Promise<{ server: Http2Server; port: number; sessions: Set<ServerHttp2Session> }> {
  const app = { server: createH2Server(), port: 0, sessions: new Set<ServerHttp2Session>() };
  app.server.on('session', (s) => {
    app.sessions.add(s);
    s.once('close', () => app.sessions.delete(s));
  });
  app.server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const seen: Seen = {
        method: String(headers[':method']),
        path: String(headers[':path']),
        authority: String(headers[':authority']),
        bytes: body.length,
        sha: sha(body),
        proto: 'HTTP/2',
      };
      stream.respond({ ':status': 201, 'content-type': 'application/json', 'x-app': 'h2' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'dropped-for-http1' }));
      stream.end(JSON.stringify(seen));
    });
  });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  app.port = (app.server.address() as AddressInfo).port;
  return app;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders | import('node:http2').IncomingHttpHeaders;
  body: Buffer;
  trailers: Record<string, unknown>;
}

function h2call(port: number, authority: string, path: string, body?: Buffer): Promise<Answer> {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': body ? 'POST' : 'GET', ':path': path, ':authority': authority }, { endStream: !body });
    let headers: import('node:http2').IncomingHttpHeaders = {};
    let trailers: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      headers = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      session.close();
      resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks), trailers });
    });
    req.on('error', (err) => {
      session.destroy();
      reject(err);
    });
    if (body) req.end(body);
  });
}

function h1call(port: number, host: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', headers: { host, ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // No content-length: the body goes chunked, streamed.
    if (body) {
      req.write(body.subarray(0, 1000));
      req.end(body.subarray(1000));
    } else req.end();
  });
}

describe('translation between HTTP/1.1 and HTTP/2: the agent that hands the request to the instance speaks its protocol', () => {
  const mesh = new Mesh();
  let a: AgentProc;
  let h1: Awaited<ReturnType<typeof startH1App>>;
  let h2: Awaited<ReturnType<typeof startH2App>>;

  before(async () => {
    const cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
    const b = await mesh.agent('agent-b', cp.grpcPort);
    h1 = await startH1App();
    h2 = await startH2App();
    // Behind agent B (B translates), and on agent A itself (A translates).
    await registerWith(b, { name: 'plain', port: h1.port, id: 'plain-b', protocol: 'http' });
    await registerWith(b, { name: 'modern', port: h2.port, id: 'modern-b', protocol: 'http2' });
    await registerWith(a, { name: 'plain-local', port: h1.port, id: 'plain-a', protocol: 'http' });
    await registerWith(a, { name: 'modern-local', port: h2.port, id: 'modern-a', protocol: 'http2' });
    for (const s of ['plain', 'modern', 'plain-local', 'modern-local']) {
      await waitFor(`${s} to be routable`, async () => (await h1call(a.outboundPort, s, '/ping')).status < 500);
    }
  });
  after(async () => {
    for (const s of h2?.sessions ?? []) s.destroy();
    await Promise.all([
      h1 && new Promise<void>((r) => h1.server.close(() => r())),
      h2 && new Promise<void>((r) => h2.server.close(() => r())),
    ]);
    h1?.server.closeAllConnections();
    await mesh.close();
  });

  for (const service of ['plain', 'plain-local']) {
    test(`an HTTP/2 request reaches an HTTP/1.1 instance (${service}) as HTTP/1.1, body streamed both ways`, async () => {
      const body = randomBytes(300 * 1024);
      const r = await h2call(a.outboundPort, service, '/orders/7?q=1', body);
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers['x-app'], 'h1');
      assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2'], 'repeated fields survive');
      const seen = JSON.parse(r.body.toString()) as Seen;
      assert.deepEqual(seen, {
        method: 'POST',
        path: '/orders/7?q=1',
        authority: service,
        bytes: body.length,
        sha: sha(body),
        proto: 'HTTP/1.1',
      });
    });
  }

  for (const service of ['modern', 'modern-local']) {
    test(`an HTTP/1.1 request reaches an HTTP/2 instance (${service}) as HTTP/2; its trailers are dropped`, async () => {
      const body = randomBytes(300 * 1024);
      const r = await h1call(a.outboundPort, service, '/upload?x=2', body);
      assert.equal(r.status, 201, r.body.toString());
      assert.equal(r.headers['x-app'], 'h2');
      const seen = JSON.parse(r.body.toString()) as Seen;
      assert.deepEqual(seen, {
        method: 'POST',
        path: '/upload?x=2',
        authority: service,
        bytes: body.length,
        sha: sha(body),
        proto: 'HTTP/2',
      });
      assert.deepEqual(r.trailers, {}, 'HTTP/2 trailers are not passed to an HTTP/1.1 client');
      const get = await h1call(a.outboundPort, service, '/');
      assert.equal(get.status, 201);
      assert.equal((JSON.parse(get.body.toString()) as Seen).method, 'GET');
    });
  }

  for (const service of ['plain', 'plain-local']) {
    test(`a gRPC call to an HTTP/1.1 instance (${service}) is answered UNIMPLEMENTED with x-weft-error protocol_not_translatable`, async () => {
      const before = h1.requests;
      const client = echoClient(a.outboundPort, service);
      try {
        const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
          client.Unary(Buffer.from('hi'), (e: grpc.ServiceError | null) => (e ? resolve(e) : reject(new Error('the call should fail'))));
        });
        assert.equal(err.code, grpc.status.UNIMPLEMENTED);
        assert.equal(err.metadata.get('x-weft-error')[0], 'protocol_not_translatable');
        assert.match(err.details, /gRPC call cannot be carried to an HTTP\/1.1 instance/);
      } finally {
        client.close();
      }
      assert.equal(h1.requests, before, 'nothing reached the app');
    });
  }

  for (const service of ['modern', 'modern-local']) {
    test(`a WebSocket upgrade to an HTTP/2 instance (${service}) is refused with upgrade_not_supported`, async () => {
      const r = await h1call(a.outboundPort, service, '/ws', undefined, {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
      });
      assert.equal(r.status, 502);
      assert.equal(r.headers['x-weft-error'], 'upgrade_not_supported');
      assert.match(r.body.toString(), /cannot be carried to an HTTP\/2 instance/);
    });
  }
});
