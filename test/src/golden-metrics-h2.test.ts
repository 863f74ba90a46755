/**
 * Golden metrics of HTTP/2 requests (docs/metrics.md): the HTTP/2 pipeline counts
 * each request once at the caller's agent, like the HTTP/1.1 one, with the caller
 * attributed by its proxy credential (never by a header it could forge) and the
 * body bytes both ways.
 */
import assert from 'node:assert/strict';
import { connect, createServer as createH2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  type AgentProc,
  type ControlPlaneProc,
  getJson,
  Mesh,
  postJson,
  registerWith,
  servicesAtControlPlane,
  waitFor,
} from './harness.js';

interface Golden {
  requestsPerSecond: number;
  successRate: number | null;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
}
interface Stats {
  services: ({ service: string } & Golden)[];
  edges: ({ source: string; destination: string } & Golden)[];
}

const countOf = (rps: number, seconds: number) => Math.round(rps * seconds);
const BODY = Buffer.from('twelve bytes');
const ANSWER = 'catalog says hi';

/** One h2c request through the agent's outbound port (prior knowledge), with optional extra headers. */
function h2call(port: number, path: string, extra: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, ':authority': 'catalog', ...extra });
    let status = 0;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      session.close();
      resolve({ status, body: Buffer.concat(chunks).toString() });
    });
    req.on('error', (err) => {
      session.destroy();
      reject(err);
    });
    req.end(BODY);
  });
}

describe('golden metrics of HTTP/2 requests: counted once at the caller, attributed by proxy credential, with bytes', () => {
  const mesh = new Mesh();
  let cp: ControlPlaneProc;
  let a: AgentProc;
  let app: Http2Server;

  before(async () => {
    cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort, ['--stats-interval', '300ms']);
    const b = await mesh.agent('agent-b', cp.grpcPort, ['--stats-interval', '300ms']);
    app = createH2Server((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = req.url === '/fail' ? 503 : 200;
        res.end(ANSWER);
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const port = (app.address() as AddressInfo).port;
    await registerWith(b, { name: 'catalog', port, id: 'catalog-1', protocol: 'http2' });
    await waitFor('catalog at the control plane', async () => (await servicesAtControlPlane(cp)).get('catalog')?.length === 1);
  });
  after(async () => {
    await mesh.close();
    app?.close();
  });

  test('a caller with a credential is its service; without one, its agent; bytes and outcomes counted', async () => {
    // `web` on agent a: its registration hands out the proxy credential (Basic web:<secret>).
    const reg = await postJson(a.adminPort, '/v1/services', { name: 'web', port: 9, id: 'web-1' });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    const credential = String(reg.json.credential);
    const auth = `Basic ${Buffer.from(`web:${credential}`).toString('base64')}`;

    for (let i = 0; i < 3; i++) {
      const r = await h2call(a.outboundPort, '/items', { 'proxy-authorization': auth });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, ANSWER);
    }
    const failed = await h2call(a.outboundPort, '/fail', { 'proxy-authorization': auth });
    assert.equal(failed.status, 503);
    const anonymous = await h2call(a.outboundPort, '/items');
    assert.equal(anonymous.status, 200);

    const stats = await waitFor(
      'the five HTTP/2 requests reported',
      async () => {
        const s = await getJson<Stats>(cp.httpPort, '/v1/stats?window=60s');
        const c = s.services.find((x) => x.service === 'catalog');
        return c !== undefined && countOf(c.requestsPerSecond, 60) === 5 ? s : undefined;
      },
      20_000,
    );
    const catalog = stats.services.find((x) => x.service === 'catalog')!;
    assert.equal(catalog.successRate, Math.round((4 / 5) * 1e6) / 1e6, 'the app 503 is the one failure');
    assert.equal(countOf(catalog.bytesInPerSecond, 60), 5 * BODY.length);
    assert.equal(countOf(catalog.bytesOutPerSecond, 60), 5 * ANSWER.length);

    const web = stats.edges.find((e) => e.source === 'web' && e.destination === 'catalog');
    assert.ok(web, `edges: ${JSON.stringify(stats.edges)}`);
    assert.equal(countOf(web.requestsPerSecond, 60), 4);
    const agent = stats.edges.find((e) => e.source === 'agent:agent-a' && e.destination === 'catalog');
    assert.ok(agent, `edges: ${JSON.stringify(stats.edges)}`);
    assert.equal(countOf(agent.requestsPerSecond, 60), 1);
  });
});
