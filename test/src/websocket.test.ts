import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { type AgentProc, Mesh, registerWith, send, sha256, waitFor } from './harness.js';

/** A real WebSocket echo server (ws): echoes every message; `/close-me` closes from the server side. */
async function wsEchoServer(): Promise<{
  port: number;
  server: http.Server;
  wss: WebSocketServer;
  closes: { code: number; reason: string }[];
}> {
  const server = http.createServer((_req, res) => res.end('plain http\n'));
  const wss = new WebSocketServer({ server, maxPayload: 64 * 1024 * 1024 });
  const closes: { code: number; reason: string }[] = [];
  wss.on('connection', (ws, req) => {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary && data.toString() === 'close-me') ws.close(4001, 'server bye');
      else ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
    ws.send(`hello ${req.headers['x-request-id'] ? 'with' : 'without'} request id`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server, wss, closes };
}

/** Opens a WebSocket to `service` through an agent's outbound listener (Host form). */
function openVia(agent: AgentProc, service: string, path = '/'): Promise<{ ws: WebSocket; first: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${agent.outboundPort}${path}`, { headers: { host: service }, maxPayload: 64 * 1024 * 1024 });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused: ${res.statusCode} ${res.headers['x-weft-error'] ?? ''}`)),
    );
    ws.once('message', (data) => resolve({ ws, first: data.toString() }));
  });
}

function nextMessage(ws: WebSocket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data: RawData) => resolve(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)));
    ws.once('close', () => reject(new Error('closed before a message')));
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

describe('WebSocket through two agents (app -> agent A -> agent B -> ws server)', () => {
  const mesh = new Mesh();
  let a: AgentProc;
  let b: AgentProc;
  let echo: Awaited<ReturnType<typeof wsEchoServer>>;

  before(async () => {
    const cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
    b = await mesh.agent('agent-b', cp.grpcPort, ['--tunnel-drain', '1s']);
    echo = await wsEchoServer();
    await registerWith(b, { name: 'chat', port: echo.port, id: 'chat-1' });
    await waitFor(
      'chat to be routable',
      async () => (await send({ port: a.outboundPort, path: '/', headers: { host: 'chat' } })).status === 200,
    );
  });
  after(async () => {
    for (const c of echo.wss.clients) c.terminate();
    echo.wss.close();
    await new Promise<void>((r) => echo.server.close(() => r()));
    await mesh.close();
  });

  test('a message is echoed through both agents, and the handshake carries the request id', async () => {
    const { ws, first } = await openVia(a, 'chat', '/echo');
    assert.equal(first, 'hello with request id');
    ws.send('ping');
    assert.equal((await nextMessage(ws)).toString(), 'ping');
    ws.close();
    await closed(ws);
  });

  test('a large (8 MiB) binary message arrives intact both ways', async () => {
    const { ws } = await openVia(a, 'chat');
    const big = randomBytes(8 * 1024 * 1024);
    ws.send(big);
    const back = await nextMessage(ws);
    assert.equal(back.length, big.length);
    assert.equal(sha256(back), sha256(big));
    ws.close();
    await closed(ws);
  });

  test('many messages arrive in order', async () => {
    const { ws } = await openVia(a, 'chat');
    const n = 2_000;
    const got: string[] = [];
    const all = new Promise<void>((resolve) => {
      ws.on('message', (d: RawData) => {
        got.push(d.toString());
        if (got.length === n) resolve();
      });
    });
    for (let i = 0; i < n; i++) ws.send(`m${i}`);
    await all;
    assert.deepEqual(
      got,
      Array.from({ length: n }, (_, i) => `m${i}`),
    );
    ws.close();
    await closed(ws);
  });

  test('a client close reaches the server with its code and reason', async () => {
    const { ws } = await openVia(a, 'chat');
    const before = echo.closes.length;
    ws.close(1000, 'client bye');
    const seen = await closed(ws);
    assert.equal(seen.code, 1000);
    await waitFor('the server to see the close', () => echo.closes.length > before, 5_000);
    assert.deepEqual(echo.closes.at(-1), { code: 1000, reason: 'client bye' });
  });

  test('a server close reaches the client with its code and reason', async () => {
    const { ws } = await openVia(a, 'chat');
    ws.send('close-me');
    assert.deepEqual(await closed(ws), { code: 4001, reason: 'server bye' });
  });

  test('upgrades are counted in both agents metrics (tunnels and bytes)', async () => {
    const metricsOf = async (agent: AgentProc) => (await send({ port: agent.adminPort, path: '/metrics' })).body.toString();
    const textA = await metricsOf(a);
    assert.match(textA, /weft_proxy_tunnels_total\{direction="outbound",service="chat",kind="upgrade"\} [1-9]/);
    assert.match(textA, /weft_proxy_tunnel_bytes_total\{direction="outbound",service="chat",kind="upgrade",way="in"\} [1-9]\d{6,}/);
    assert.match(
      textA,
      /response_total\{direction="outbound",dst_service="chat",src_service="agent:agent-a",status_code="101",classification="success",error=""\} [1-9]/,
    );
    const textB = await metricsOf(b);
    assert.match(textB, /weft_proxy_tunnels_total\{direction="inbound",service="chat",kind="upgrade"\} [1-9]/);
    assert.match(textB, /weft_proxy_tunnel_bytes_total\{direction="inbound",service="chat",kind="upgrade",way="out"\} [1-9]\d{6,}/);
  });

  test('a deregistered instance keeps its open WebSocket for the drain period, then it is closed', async () => {
    const { ws } = await openVia(a, 'chat');
    const gone = closed(ws);
    const r = await send({ port: b.adminPort, path: '/v1/services/chat-1', method: 'DELETE' });
    assert.equal(r.status, 200);
    const deregisteredAt = Date.now();
    // Still carried during the drain period (1 s here).
    ws.send('still there');
    assert.equal((await nextMessage(ws)).toString(), 'still there');
    const seen = await gone;
    const after = Date.now() - deregisteredAt;
    assert.ok(after >= 700, `closed after ${after} ms, before the drain period ended`);
    assert.ok(after < 5_000, `closed after ${after} ms`);
    assert.equal(seen.code, 1006, 'the connection is cut (no close frame from the server)');
    const metrics = (await send({ port: b.adminPort, path: '/metrics' })).body.toString();
    assert.match(metrics, /weft_proxy_tunnel_closes_total\{direction="inbound",service="chat",kind="upgrade",reason="drained"\} 1/);
  });
});
