import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MeshError, silentLogger } from '@weft/shared';
import type { ExternalSource, ExternalTarget, Listener } from '../contracts.js';
import { isLoopbackHost } from './outbound-external.js';
import { startOutboundListener } from './outbound-listener.js';
import { localInstances, send, startUpstream, staticSource, type Upstream } from './test-support.js';

function externals(targets: ExternalTarget[]): ExternalSource {
  const byHost = new Map(targets.map((t) => [t.host, t]));
  return { lookup: (host) => byHost.get(host) };
}

/** Writes `bytes` in one go to the outbound port and reads until the agent closes (or `untilBytes` arrive). */
function raw(port: number, bytes: string, untilBytes?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (c: Buffer) => {
      out += c.toString('latin1');
      if (untilBytes !== undefined && out.length >= untilBytes) {
        s.destroy();
        resolve(out);
      }
    });
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.write(bytes);
  });
}

describe('outbound listener: hosts outside the mesh', () => {
  let echo: Upstream;
  let tcpEcho: Server;
  let tcpPort: number;
  let proxy: Listener;

  before(async () => {
    echo = await startUpstream((req, res) =>
      res.end(JSON.stringify({ url: req.url, host: req.headers.host, xff: req.headers['x-forwarded-for'] })),
    );
    tcpEcho = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => tcpEcho.listen(0, '127.0.0.1', r));
    tcpPort = (tcpEcho.address() as { port: number }).port;
    proxy = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource({}, (s) => new MeshError('unknown_service', `service ${s} is not registered`)),
      local: localInstances([]),
      logger: silentLogger,
      requestTimeoutMs: 5_000,
      host: '127.0.0.1',
      port: 0,
      externals: externals([
        { service: 'outside', host: '127.0.0.1', port: echo.port, tls: false, version: '1' },
        { service: 'tunnel', host: 'localhost', port: tcpPort, tls: false, version: '1' },
      ]),
    });
  });

  after(async () => {
    await proxy.close();
    await echo.close();
    await new Promise<void>((r) => tcpEcho.close(() => r()));
  });

  it('forwards to a declared host, with the Host the app wrote and without x-forwarded-for', async () => {
    const res = await send({ port: proxy.port, path: `http://127.0.0.1:${echo.port}/a?b=1`, headers: { host: `127.0.0.1:${echo.port}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.toString()), { url: '/a?b=1', host: `127.0.0.1:${echo.port}` });
  });

  it('answers unknown_service with the declared port when the request names another', async () => {
    const res = await send({ port: proxy.port, path: 'http://127.0.0.1:1/x', headers: { host: '127.0.0.1:1' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers['x-weft-error'], 'unknown_service');
    assert.match(res.body.toString(), new RegExp(`declares 127\\.0\\.0\\.1 on port ${echo.port} only`));
  });

  it('answers unknown_service with an ExternalService to apply for an undeclared host', async () => {
    const res = await send({ port: proxy.port, path: 'http://api.example.com/x', headers: { host: 'api.example.com' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers['x-weft-error'], 'unknown_service');
    const body = res.body.toString();
    assert.match(
      body,
      /kind: ExternalService\n {2}metadata:\n {4}service: example\n {2}host: api\.example\.com\n {2}port: 443\n {2}tls: true {3}# the agent speaks TLS/,
    );
    assert.match(body, /NO_PROXY/);
  });

  it('refuses a call to its own outbound port instead of looping', async () => {
    const res = await send({ port: proxy.port, path: `http://127.0.0.1:${proxy.port}/`, headers: { host: `127.0.0.1:${proxy.port}` } });
    assert.equal(res.status, 400);
    assert.equal(res.headers['x-weft-error'], 'bad_request');
    assert.match(res.body.toString(), /own outbound listener/);
  });

  it('tunnels CONNECT to a declared host, bytes sent with the CONNECT head included', async () => {
    const head = `CONNECT localhost:${tcpPort} HTTP/1.1\r\nHost: localhost:${tcpPort}\r\n\r\n`;
    const established = 'HTTP/1.1 200 Connection Established\r\n\r\n';
    const out = await raw(proxy.port, `${head}early bytes`, established.length + 'early bytes'.length);
    assert.equal(out, `${established}early bytes`);
  });

  it('refuses CONNECT to an undeclared host with unknown_service and the hint', async () => {
    const out = await raw(proxy.port, 'CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 404 /);
    assert.match(out, /x-weft-error: unknown_service/);
    assert.match(out, /port: 443\n {2}tls: true/);
  });

  it('treats 127.0.0.0/8, localhost and ::1 as loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'a.localhost', '::1']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['10.0.0.1', 'example.com', '127.0.0.1.example.com']) assert.ok(!isLoopbackHost(h), h);
  });
});
