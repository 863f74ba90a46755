import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AgentProc, echoHandler, Mesh, registerWith, type TestService, viaProxy, waitFor } from './harness.js';
import {
  agentMetrics,
  deregister,
  type FaultServer,
  idleClosingServer,
  metricValue,
  rawExchange,
  resetOnReuseServer,
  SteadyLoad,
  stopGracefully,
} from './harness-faults.js';

describe('resilience against misbehaving upstreams (real agents)', () => {
  const mesh = new Mesh();
  let a: AgentProc;
  let b: AgentProc;
  const closers: (() => Promise<void>)[] = [];
  const held: (() => void)[] = [];
  let racy: FaultServer;
  let idle: FaultServer;

  before(async () => {
    const cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort, ['--max-requests-per-service', '3']);
    b = await mesh.agent('agent-b', cp.grpcPort);
    const down = await mesh.service((req, res) => {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance');
    });
    const hang = await mesh.service((req) => req.resume());
    const rude = await mesh.service((req) => req.socket.destroy());
    const dying = await mesh.service((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(100, 'a'));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const gate = await mesh.service((req, res) => {
      req.resume();
      held.push(() => res.end('done'));
    });
    racy = await resetOnReuseServer();
    idle = await idleClosingServer(20);
    closers.push(
      () => racy.close(),
      () => idle.close(),
    );
    for (const [name, port] of [
      ['down', down.port],
      ['hang', hang.port],
      ['rude', rude.port],
      ['dying', dying.port],
      ['gate', gate.port],
      ['racy', racy.port],
      ['idle', idle.port],
    ] as const) {
      await registerWith(b, { name, port, id: `${name}-1` });
    }
    await waitFor('agent-a to route to every service', async () => {
      for (const name of ['down', 'racy', 'idle']) {
        const r = await viaProxy(a.outboundPort, `http://${name}/`);
        if (r.headers['x-weft-error'] !== undefined) return false;
      }
      return true;
    });
  });
  after(async () => {
    for (const release of held) release();
    await mesh.close();
    for (const c of closers) await c();
  });

  test('a service that answers 503 gets its answer back, with retries within the budget', async () => {
    const before = metricValue(await agentMetrics(a), 'weft_proxy_retries_total', { service: 'down' });
    for (let i = 0; i < 60; i++) {
      const r = await viaProxy(a.outboundPort, 'http://down/');
      assert.equal(r.status, 503);
      assert.equal(r.body.toString(), 'down for maintenance');
    }
    const m = await agentMetrics(a);
    const retries = metricValue(m, 'weft_proxy_retries_total', { service: 'down' });
    const requests = metricValue(m, 'response_total', { direction: 'outbound', dst_service: 'down' });
    // At most 20% of the requests plus 3 per second of the 10 s window.
    assert.ok(retries <= 0.2 * requests + 30, `retries ${retries} for ${requests} requests (${before} before)`);
    assert.ok(metricValue(m, 'weft_proxy_retry_budget_exhausted_total', { service: 'down' }) >= 1);
  });

  test('a hung upstream gets upstream_timeout within the caller deadline', async () => {
    const started = Date.now();
    const r = await viaProxy(a.outboundPort, 'http://hang/', { headers: { 'x-weft-timeout-ms': '600' } });
    assert.equal(r.status, 504);
    assert.equal(r.headers['x-weft-error'], 'upstream_timeout');
    assert.ok(Date.now() - started < 3_000);
  });

  test('an upstream that resets the connection gets upstream_reset for a POST (not retried)', async () => {
    const r = await viaProxy(a.outboundPort, 'http://rude/', { method: 'POST', body: 'x' });
    assert.equal(r.status, 502);
    assert.equal(r.headers['x-weft-error'], 'upstream_reset');
  });

  test('an upstream that dies mid-body cuts the response, and the agent keeps serving', async () => {
    await assert.rejects(viaProxy(a.outboundPort, 'http://dying/'));
    const r = await viaProxy(a.outboundPort, 'http://down/');
    assert.equal(r.status, 503);
    assert.equal(r.body.toString(), 'down for maintenance');
  });

  test('keep-alive connections closed at the wrong moment cause no failed GET, and never a POST run twice', async () => {
    const failures: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await viaProxy(a.outboundPort, `http://racy/${i}`);
      if (r.status !== 200) failures.push(`${r.status} ${r.headers['x-weft-error']}: ${r.body}`);
    }
    const racyBefore = racy.handled;
    let postsOk = 0;
    for (let i = 0; i < 10; i++) {
      const r = await viaProxy(a.outboundPort, 'http://racy/', { method: 'POST', body: `n=${i}` });
      if (r.status === 200) postsOk++;
      else if (r.headers['x-weft-error'] !== 'upstream_reset') failures.push(`POST ${r.status} ${r.headers['x-weft-error']}: ${r.body}`);
    }
    assert.equal(racy.handled - racyBefore, postsOk, 'a POST the app may have read is never sent again');
    const idleBefore = idle.handled;
    let idleOk = 0;
    for (let i = 0; i < 100; i++) {
      const post = i % 2 === 0;
      const r = await viaProxy(a.outboundPort, 'http://idle/', { method: post ? 'POST' : 'GET', body: post ? 'x' : undefined });
      if (r.status === 200) idleOk++;
      else if (!post || r.headers['x-weft-error'] !== 'upstream_reset')
        failures.push(`${r.status} ${r.headers['x-weft-error']}: ${r.body}`);
      await new Promise((resolve) => setTimeout(resolve, 15 + Math.random() * 10));
    }
    assert.equal(idle.handled - idleBefore, idleOk);
    assert.deepEqual(failures, []);
  });

  test('over --max-requests-per-service, requests get circuit_open at once', async () => {
    const first = [0, 1, 2].map(() => viaProxy(a.outboundPort, 'http://gate/'));
    await waitFor('three requests held by the gate service', () => held.length >= 3, 5_000, 10);
    const refused = await Promise.all([0, 1].map(() => viaProxy(a.outboundPort, 'http://gate/')));
    for (const r of refused) {
      assert.equal(r.status, 503);
      assert.equal(r.headers['x-weft-error'], 'circuit_open');
      assert.match(r.body.toString(), /service gate: .*max-requests-per-service=3/);
    }
    for (const release of held.splice(0)) release();
    for (const r of await Promise.all(first)) assert.equal(r.status, 200);
    const m = await agentMetrics(a);
    assert.equal(metricValue(m, 'weft_proxy_circuit_open_total', { service: 'gate' }), 2);
  });

  test('request smuggling attempts get 400 bad_request on both listeners, and the agent keeps serving', async () => {
    const attempts = [
      'POST / HTTP/1.1\r\nHost: down\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: down\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
    ];
    // The inbound listener is mTLS: the attempts come from a mesh peer (agent A's certificate).
    for (const [port, tls] of [
      [a.outboundPort, undefined],
      [b.inboundPort, mesh.meshTls(a.agentId)],
    ] as const) {
      for (const head of attempts) {
        const r = await rawExchange(port, [head], { tls });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.headers['x-weft-error'], 'bad_request');
      }
    }
    const big = await rawExchange(a.outboundPort, [`GET / HTTP/1.1\r\nHost: down\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`]);
    assert.equal(big.status, 431);
    assert.equal(big.headers['x-weft-error'], 'bad_request');
    const r = await viaProxy(a.outboundPort, 'http://down/');
    assert.equal(r.status, 503);
    assert.equal(r.body.toString(), 'down for maintenance');
  });

  test('/metrics reports requests by direction, service, code and error, and latency per service', async () => {
    const m = await agentMetrics(a);
    assert.ok(metricValue(m, 'response_total', { direction: 'outbound', dst_service: 'racy', status_code: '200' }) >= 30);
    assert.ok(metricValue(m, 'response_total', { direction: 'outbound', dst_service: 'hang', error: 'upstream_timeout' }) >= 1);
    assert.ok(metricValue(m, 'response_latency_ms_count', { direction: 'outbound', dst_service: 'idle' }) >= 100);
    const mb = await agentMetrics(b);
    assert.ok(metricValue(mb, 'response_total', { direction: 'inbound', dst_service: 'racy', status_code: '200' }) >= 30);
  });
});

describe('rolling restart of three instances under load', () => {
  const mesh = new Mesh();
  let a: AgentProc;
  const hosts: { agent: AgentProc; id: string; svc: TestService }[] = [];

  before(async () => {
    const cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
    const b = await mesh.agent('agent-b', cp.grpcPort);
    const c = await mesh.agent('agent-c', cp.grpcPort);
    for (const [agent, id] of [
      [b, 'orders-1'],
      [b, 'orders-2'],
      [c, 'orders-3'],
    ] as const) {
      const svc = await mesh.service(echoHandler(id));
      await registerWith(agent, { name: 'orders', port: svc.port, id });
      hosts.push({ agent, id, svc });
    }
    await waitFor('all three instances to serve', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) seen.add(String((await viaProxy(a.outboundPort, 'http://orders/')).headers['x-served-by']));
      return seen.size === 3;
    });
  });
  after(() => mesh.close());

  test('deregister, stop, start, register again, one at a time: zero failed requests', async (t) => {
    const load = new SteadyLoad(a, 'http://orders/', 4, 5);
    try {
      for (const host of hosts) {
        await new Promise((r) => setTimeout(r, 500));
        await deregister(host.agent, host.id);
        // Drain: the other agents stop picking it; requests it already has finish.
        await new Promise((r) => setTimeout(r, 1_000));
        await stopGracefully(host.svc);
        host.svc = await mesh.service(echoHandler(host.id));
        await registerWith(host.agent, { name: 'orders', port: host.svc.port, id: host.id });
        const hitsBefore = host.svc.hits;
        await waitFor(`${host.id} to receive traffic again`, () => host.svc.hits > hitsBefore, 10_000, 50);
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await load.stop();
    }
    const { sent, ok, failures, servedBy } = load.report;
    assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);
    assert.equal(ok, sent);
    assert.ok(sent > 200, `only ${sent} requests were sent`);
    assert.equal(servedBy.size, 3, `served by ${[...servedBy.keys()].join(', ')}`);
    const m = await agentMetrics(a);
    const reasons = ['not_delivered', 'connect_failed', 'stale_connection', 'reset', 'status_503'];
    t.diagnostic(
      `${sent} requests; retries: ${reasons.map((r) => `${r}=${metricValue(m, 'weft_proxy_retries_total', { reason: r })}`).join(' ')}`,
    );
  });
});
