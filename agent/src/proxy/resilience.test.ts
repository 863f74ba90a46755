import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { type Endpoint, MetricsRegistry, silentLogger } from '@weft/shared';
import type { Listener } from '../contracts.js';
import { idleClosingServer, metricValue, resetOnReuseServer } from './fault-upstreams.js';
import { startInboundListener } from './inbound-listener.js';
import { startOutboundListener } from './outbound-listener.js';
import { ProxyMetrics } from './proxy-metrics.js';
import type { ResilienceOptions } from './resilience-options.js';
import { closedPort, endpoint, localInstances, send, sha256, startUpstream, staticSource, type Upstream } from './test-support.js';

interface Proxy {
  listener: Listener;
  port: number;
  metrics: () => string;
}

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function proxy(
  services: Record<string, Endpoint[]>,
  resilience: Partial<ResilienceOptions> = {},
  requestTimeoutMs = 5_000,
): Promise<Proxy> {
  const registry = new MetricsRegistry();
  const listener = await startOutboundListener({
    agentId: 'agent-a',
    endpoints: staticSource(services),
    local: localInstances([]),
    logger: silentLogger,
    requestTimeoutMs,
    host: '127.0.0.1',
    port: 0,
    resilience,
    metrics: new ProxyMetrics(registry),
  });
  cleanup.push(() => listener.close());
  return { listener, port: listener.port, metrics: () => registry.render() };
}

async function upstream(handle: Parameters<typeof startUpstream>[0]): Promise<Upstream> {
  const u = await startUpstream(handle);
  cleanup.push(() => u.close());
  return u;
}

const echoBody = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => res.end(Buffer.concat(chunks)));
};

describe('retries', () => {
  it('retries a GET answered 503 elsewhere, never a POST, and ejects the endpoint after 5 consecutive 5xx', async () => {
    const bad = await upstream((req, res) => {
      req.resume();
      res.writeHead(503).end('bad');
    });
    const good = await upstream((req, res) => {
      req.resume();
      res.end('good');
    });
    const p = await proxy({
      posts: [endpoint({ service: 'posts', port: bad.port }), endpoint({ service: 'posts', port: good.port })],
    });
    let failed = 0;
    for (let i = 0; i < 40; i++) {
      const r = await send({ port: p.port, method: 'POST', path: '/', headers: { host: 'posts' }, body: 'x' });
      if (r.status === 503) {
        failed++;
        assert.equal(r.headers['x-weft-error'], undefined, "the app's own 503 is passed through");
      } else assert.equal(r.status, 200);
    }
    assert.equal(failed, 5, 'five POSTs reached the bad endpoint, then it was ejected');
    const m = p.metrics();
    assert.equal(metricValue(m, 'weft_proxy_ejections_total', { service: 'posts' }), 1);
    assert.equal(metricValue(m, 'weft_proxy_ejected_endpoints', { service: 'posts' }), 1);
    assert.equal(metricValue(m, 'weft_proxy_retries_total', { service: 'posts' }), 0);
    assert.equal(metricValue(m, 'response_total', { dst_service: 'posts', status_code: '503' }), 5);

    const q = await proxy({
      gets: [endpoint({ service: 'gets', port: bad.port }), endpoint({ service: 'gets', port: good.port })],
    });
    for (let i = 0; i < 20; i++) {
      const r = await send({ port: q.port, path: '/', headers: { host: 'gets' } });
      assert.equal(r.status, 200);
    }
    assert.ok(metricValue(q.metrics(), 'weft_proxy_retries_total', { service: 'gets', reason: 'status_503' }) >= 1);
  });

  it('abandons a hung try after the per-try timeout and retries a GET; a POST gets the whole deadline', async () => {
    const hang = await upstream(() => {});
    const good = await upstream((req, res) => {
      req.resume();
      res.end('good');
    });
    const p = await proxy(
      {
        mixed: [endpoint({ service: 'mixed', port: hang.port }), endpoint({ service: 'mixed', port: good.port })],
        hung: [endpoint({ service: 'hung', port: hang.port })],
      },
      { perTryTimeoutMs: 150 },
      3_000,
    );
    // The balancer picks at random: send until a try landed on the hung endpoint (odds of 30 misses: 2^-30).
    const timeoutRetries = () => metricValue(p.metrics(), 'weft_proxy_retries_total', { service: 'mixed', reason: 'timeout' });
    for (let i = 0; i < 30 && timeoutRetries() === 0; i++) {
      const r = await send({ port: p.port, path: '/', headers: { host: 'mixed' } });
      assert.equal(r.status, 200);
    }
    assert.ok(timeoutRetries() >= 1, 'a GET whose try hung was retried on the other endpoint');
    const post = await send({ port: p.port, method: 'POST', path: '/', headers: { host: 'hung', 'x-weft-timeout-ms': '400' }, body: 'x' });
    assert.equal(post.status, 504);
    assert.equal(post.headers['x-weft-error'], 'upstream_timeout');
    assert.match(post.body.toString(), /400 ms/);
  });

  it('replays a small POST body after a connect failure, but never a body over 64 KiB', async () => {
    const echo = await upstream(echoBody);
    const dead = await closedPort();
    // Two dead endpoints: only one is ejected (never more than half), so retries keep being exercised.
    const eps = (service: string) => [...[1, 2].map(() => endpoint({ service, port: dead })), endpoint({ service, port: echo.port })];
    const p = await proxy({ small: eps('small'), large: eps('large') });
    for (let i = 0; i < 10; i++) {
      const body = randomBytes(32 * 1024);
      const r = await send({ port: p.port, method: 'POST', path: '/', headers: { host: 'small' }, body });
      assert.equal(r.status, 200, `${i}: ${r.body.toString()}`);
      assert.equal(sha256(r.body), sha256(body));
    }
    assert.ok(metricValue(p.metrics(), 'weft_proxy_retries_total', { service: 'small', reason: 'connect_failed' }) >= 1);

    let refused = 0;
    for (let i = 0; i < 10; i++) {
      const body = randomBytes(100 * 1024);
      const r = await send({ port: p.port, method: 'POST', path: '/', headers: { host: 'large' }, body });
      if (r.status === 200) assert.equal(sha256(r.body), sha256(body));
      else {
        refused++;
        assert.equal(r.headers['x-weft-error'], 'upstream_connect_failed');
      }
    }
    assert.ok(refused >= 1, 'some large POSTs hit a dead endpoint first and were not retried');
    assert.equal(metricValue(p.metrics(), 'weft_proxy_retries_total', { service: 'large' }), 0);
  });

  it('stays within the retry budget when every answer is a 503, and answers with the last failure', async () => {
    const down = await upstream((req, res) => {
      req.resume();
      res.writeHead(503).end('down');
    });
    const p = await proxy({ down: [endpoint({ service: 'down', port: down.port })] });
    for (let i = 0; i < 100; i++) {
      const r = await send({ port: p.port, path: '/', headers: { host: 'down' } });
      assert.equal(r.status, 503);
      assert.equal(r.body.toString(), 'down');
    }
    const m = p.metrics();
    const retries = metricValue(m, 'weft_proxy_retries_total', { service: 'down' });
    // 20% of 100 requests plus 3 per second of the 10 s window.
    assert.ok(retries <= 20 + 30, `retries ${retries}`);
    assert.ok(metricValue(m, 'weft_proxy_retry_budget_exhausted_total', { service: 'down' }) >= 1);
    assert.equal(down.seen.length, 100 + retries);
  });
});

describe('keep-alive races', () => {
  it('sends a GET again, transparently, when the server resets a reused connection as it arrives', async () => {
    const app = await resetOnReuseServer();
    cleanup.push(() => app.close());
    const p = await proxy({ racy: [endpoint({ service: 'racy', port: app.port })] });
    for (let i = 0; i < 20; i++) {
      const r = await send({ port: p.port, method: 'GET', path: `/${i}`, headers: { host: 'racy' } });
      assert.equal(r.status, 200, r.body.toString());
    }
    assert.equal(app.handled, 20, 'each GET reached the app exactly once');
    assert.ok(metricValue(p.metrics(), 'weft_proxy_retries_total', { service: 'racy', reason: 'stale_connection' }) >= 1);
  });

  it('never sends a POST again once its bytes were written: the client gets upstream_reset, the app ran it at most once', async () => {
    const app = await resetOnReuseServer();
    cleanup.push(() => app.close());
    const p = await proxy({ racy: [endpoint({ service: 'racy', port: app.port })] });
    let ok = 0;
    let reset = 0;
    for (let i = 0; i < 20; i++) {
      const r = await send({ port: p.port, method: 'POST', path: '/', headers: { host: 'racy' }, body: `n=${i}` });
      if (r.status === 200) ok++;
      else {
        assert.equal(r.status, 502, r.body.toString());
        assert.equal(r.headers['x-weft-error'], 'upstream_reset');
        assert.match(r.body.toString(), /not re-sent/);
        reset++;
      }
    }
    assert.ok(reset >= 1, 'the server resets every reused connection');
    assert.equal(app.handled, ok, 'only the POSTs answered 200 ran, each once');
  });

  it('does the same on the inbound side, between the agent and a local app: a GET re-sent, a POST not', async () => {
    const app = await resetOnReuseServer();
    cleanup.push(() => app.close());
    const inbound = await startInboundListener({
      agentId: 'agent-b',
      endpoints: staticSource({}),
      local: localInstances([{ instanceId: 'r1', service: 'racy', address: '127.0.0.1', port: app.port }]),
      logger: silentLogger,
      requestTimeoutMs: 5_000,
      host: '127.0.0.1',
      port: 0,
    });
    cleanup.push(() => inbound.close());
    for (let i = 0; i < 10; i++) {
      const r = await send({ port: inbound.port, method: 'GET', path: '/', headers: { host: 'racy', 'x-weft-instance': 'r1' } });
      assert.equal(r.status, 200, r.body.toString());
    }
    assert.equal(app.handled, 10);
    let ok = 0;
    for (let i = 0; i < 10; i++) {
      const r = await send({
        port: inbound.port,
        method: 'POST',
        path: '/',
        headers: { host: 'racy', 'x-weft-instance': 'r1' },
        body: 'b',
      });
      if (r.status === 200) ok++;
      else assert.equal(r.headers['x-weft-error'], 'upstream_reset');
    }
    assert.ok(ok < 10, 'some POSTs hit a reused connection');
    assert.equal(app.handled, 10 + ok);
  });

  it('has zero failed GETs, and no POST run twice, against a server that closes idle connections just as they are reused', async (t) => {
    const app = await idleClosingServer(20);
    cleanup.push(() => app.close());
    const p = await proxy({ idle: [endpoint({ service: 'idle', port: app.port })] });
    const failures: string[] = [];
    let postsOk = 0;
    let postsReset = 0;
    const n = 150;
    for (let i = 0; i < n; i++) {
      const post = i % 2 === 1;
      const r = await send({
        port: p.port,
        method: post ? 'POST' : 'GET',
        path: '/',
        headers: { host: 'idle' },
        body: post ? 'x' : undefined,
      });
      if (post && r.status === 200) postsOk++;
      else if (post && r.headers['x-weft-error'] === 'upstream_reset') postsReset++;
      else if (r.status !== 200) failures.push(`${r.status} ${r.headers['x-weft-error']} ${r.body}`);
      await new Promise((resolve) => setTimeout(resolve, 15 + Math.random() * 10));
    }
    assert.deepEqual(failures, []);
    assert.equal(app.handled, n / 2 + postsOk, 'every GET ran once; each POST ran at most once');
    t.diagnostic(
      `stale-connection retries: ${metricValue(p.metrics(), 'weft_proxy_retries_total', { reason: 'stale_connection' })}, POSTs answered upstream_reset: ${postsReset}`,
    );
  });
});

describe('upstream failures mid-response and circuit breaking', () => {
  it('cuts the client response when the upstream dies mid-body, and keeps serving', async () => {
    const dying = await upstream((req, res) => {
      req.resume();
      if (req.url === '/ok') return void res.end('fine');
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(100, 'a'));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const p = await proxy({ dying: [endpoint({ service: 'dying', port: dying.port })] });
    await assert.rejects(send({ port: p.port, path: '/', headers: { host: 'dying' } }));
    const ok = await send({ port: p.port, path: '/ok', headers: { host: 'dying' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), 'fine');
  });

  it('answers circuit_open at once over the per-service request limit', async () => {
    const held: (() => void)[] = [];
    const slow = await upstream((req, res) => {
      req.resume();
      held.push(() => res.end('done'));
    });
    const p = await proxy({ gate: [endpoint({ service: 'gate', port: slow.port })] }, { maxRequestsPerService: 2 });
    const first = [0, 1].map(() => send({ port: p.port, path: '/', headers: { host: 'gate' } }));
    while (held.length < 2) await new Promise((r) => setTimeout(r, 5));
    const refused = await Promise.all([0, 1, 2].map(() => send({ port: p.port, path: '/', headers: { host: 'gate' } })));
    for (const r of refused) {
      assert.equal(r.status, 503);
      assert.equal(r.headers['x-weft-error'], 'circuit_open');
      assert.match(r.body.toString(), /service gate: .*max-requests-per-service=2/);
    }
    for (const release of held) release();
    for (const r of await Promise.all(first)) assert.equal(r.status, 200);
    const m = p.metrics();
    assert.equal(metricValue(m, 'weft_proxy_circuit_open_total', { service: 'gate', limit: 'max_requests' }), 3);
    assert.equal(metricValue(m, 'response_total', { direction: 'outbound', dst_service: 'gate', error: 'circuit_open' }), 3);
    // Limits are released when requests finish.
    const again = send({ port: p.port, path: '/', headers: { host: 'gate' } });
    while (held.length < 3) await new Promise((r) => setTimeout(r, 5));
    held[2]!();
    assert.equal((await again).status, 200);
  });
});
