import assert from 'node:assert/strict';
import http from 'node:http';
import { connect, constants, createServer, type Http2Server, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MeshError, MeshErrorCode, MetricsRegistry, Outcome, silentLogger } from '@weft/shared';
import type { Listener } from '../contracts.js';
import { EdgeStatsTable } from './edge-stats.js';
import { startOutboundListener } from './outbound-listener.js';
import { ProxyMetrics } from './proxy-metrics.js';
import { endpoint, localInstances, send, staticSource } from './test-support.js';

function h2get(port: number, authority: string, path: string, grpc = false): Promise<number> {
  const session = connect(`http://127.0.0.1:${port}`);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ':method': grpc ? 'POST' : 'GET', ':path': path, ':authority': authority };
    if (grpc) headers['content-type'] = 'application/grpc';
    const req = session.request(headers, { endStream: true });
    let status = 0;
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.setTimeout(10_000, () => req.close(constants.NGHTTP2_CANCEL));
    req.resume();
    req.on('close', () => {
      session.close();
      resolve(status);
    });
    req.on('end', () => {
      session.close();
      resolve(status);
    });
    req.on('error', (err) => {
      session.destroy();
      reject(err);
    });
  });
}

describe('golden metrics are counted where both pipelines finish a request', () => {
  let upstream: Http2Server;
  let proxy: Listener;
  const edges = new EdgeStatsTable();
  const sessions = new Set<Http2Session>();
  const http1 = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('h1 answer'));
  });

  before(async () => {
    upstream = createServer();
    upstream.on('session', (s) => {
      sessions.add(s);
      s.on('close', () => sessions.delete(s));
    });
    upstream.on('stream', (stream, headers) => {
      // The upstream resets the stream before any answer: the mesh answers upstream_reset.
      if (headers[':path'] === '/reset') return void stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      stream.respond({ ':status': headers[':path'] === '/fail' ? 503 : 200 });
      stream.end('h2 answer');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    await new Promise<void>((r) => http1.listen(0, '127.0.0.1', r));
    const services = {
      h2svc: [endpoint({ service: 'h2svc', port, protocol: 'http2' })],
      h1svc: [endpoint({ service: 'h1svc', port: (http1.address() as AddressInfo).port, protocol: 'http' })],
    };
    proxy = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource(services, (s) => new MeshError(MeshErrorCode.unknownService, `no service ${s}`)),
      local: localInstances([]),
      logger: silentLogger,
      requestTimeoutMs: 5000,
      host: '127.0.0.1',
      port: 0,
      metrics: new ProxyMetrics(new MetricsRegistry(), { agentId: 'agent-a', edges }),
    });
  });
  after(async () => {
    await proxy.close();
    for (const session of sessions) session.destroy();
    await new Promise<void>((r) => upstream.close(() => r()));
    http1.closeAllConnections();
    await new Promise<void>((r) => http1.close(() => r()));
  });

  it('counts HTTP/2 streams and HTTP/1.1 requests once each, by source, destination and outcome', async () => {
    assert.equal(await h2get(proxy.port, 'h2svc', '/ok'), 200);
    assert.equal(await h2get(proxy.port, 'h2svc', '/ok'), 200);
    assert.equal(await h2get(proxy.port, 'h2svc', '/fail'), 503);
    assert.equal(await h2get(proxy.port, 'h2svc', '/reset', true), 200, 'a gRPC call: the failure is in its trailers');
    const r = await send({ port: proxy.port, path: '/x', headers: { host: 'h1svc' }, body: 'abcd', method: 'POST' });
    assert.equal(r.status, 200, r.body.toString());
    await send({ port: proxy.port, path: '/x', headers: { host: 'nosuch' } });

    const rows = edges
      .drain()
      .map((x) => `${x.source} ${x.destination} ${x.outcome} ${x.requests} in=${x.bytesIn} out=${x.bytesOut}`)
      .sort();
    assert.deepEqual(rows, [
      `agent:agent-a h1svc ${Outcome.success} 1 in=4 out=${'h1 answer'.length}`,
      `agent:agent-a h2svc ${Outcome.success} 2 in=0 out=0`,
      `agent:agent-a h2svc ${Outcome.appError} 1 in=0 out=0`,
      `agent:agent-a h2svc ${Outcome.meshError} 1 in=0 out=0`,
    ]);
  });
});
