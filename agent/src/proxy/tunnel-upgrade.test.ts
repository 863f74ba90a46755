/**
 * HTTP/1.1 Upgrade through the proxy with real listeners: the outbound
 * listener, a peer agent's inbound listener, and raw upstreams that switch
 * protocols. After the 101 the connection is a tunnel on both hops: bytes
 * unchanged both ways (bytes sent with the request head included),
 * backpressure, half-close.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { silentLogger } from '@weft/shared';
import { startInboundListener } from './inbound-listener.js';
import { startOutboundListener } from './outbound-listener.js';
import { endpoint, localInstances, send, staticSource } from './test-support.js';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** An upstream that switches to `proto` on upgrade and then runs `tunnel` on the socket; plain requests get 200 with their Upgrade header. */
async function upgradingUpstream(tunnel: (socket: Socket, head: Buffer, req: IncomingMessage) => void): Promise<number> {
  const server = createHttpServer((req, res) => {
    res.end(`plain ${req.method} upgrade=${req.headers.upgrade ?? '-'} connection=${req.headers.connection ?? '-'}`);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\nx-seen-id: ${req.headers['x-request-id']}\r\n\r\n`,
    );
    tunnel(socket, head, req);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** Echoes bytes; answers a half-close with `<eof>` and its own FIN. */
function echo(socket: Socket, head: Buffer): void {
  socket.allowHalfOpen = true;
  if (head.length > 0) socket.write(head);
  socket.on('data', (d) => socket.write(d));
  socket.on('end', () => socket.end('<eof>'));
}

/** Outbound listener of agent-a, and agent-b's inbound listener with the upstream registered as instance up-1. */
async function mesh(upstreamPort: number): Promise<number> {
  const local = localInstances([{ instanceId: 'up-1', service: 'up', address: '127.0.0.1', port: upstreamPort }]);
  const common = { logger: silentLogger, requestTimeoutMs: 5_000, host: '127.0.0.1', port: 0 };
  const inbound = await startInboundListener({ ...common, agentId: 'agent-b', endpoints: staticSource({}), local });
  cleanup.push(() => inbound.close());
  const ep = endpoint({ service: 'up', instanceId: 'up-1', port: upstreamPort, agentId: 'agent-b', agentPort: inbound.port });
  const outbound = await startOutboundListener({
    ...common,
    agentId: 'agent-a',
    endpoints: staticSource({ up: [ep] }),
    local: localInstances([]),
  });
  cleanup.push(() => outbound.close());
  return outbound.port;
}

/** Sends `head` + `early` on a raw connection; resolves with the answer head and the socket (bytes after the head unshifted). */
function rawUpgrade(port: number, head: string, early = ''): Promise<{ socket: Socket; answer: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const rest = buf.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ socket, answer: buf.toString('latin1', 0, end) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(head + early);
  });
}

function readUntilEnd(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
    socket.resume();
  });
}

const UPGRADE = 'GET /chat HTTP/1.1\r\nHost: up\r\nConnection: keep-alive, Upgrade\r\nUpgrade: weft-echo\r\n\r\n';

describe('HTTP/1.1 Upgrade through the outbound and inbound listeners', () => {
  it('passes the 101 on and carries bytes unchanged both ways, those sent with the request head first', async () => {
    const port = await mesh(await upgradingUpstream(echo));
    const { socket, answer } = await rawUpgrade(port, UPGRADE, 'early bytes|');
    assert.match(answer, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(answer, /\r\nconnection: upgrade\r\n/i);
    assert.match(answer, /\r\nupgrade: weft-echo/i);
    assert.match(answer, /\r\nx-seen-id: \S+/, 'the request id reached the app');
    const all = readUntilEnd(socket);
    socket.write('later bytes');
    // Half-close: the app sees our FIN and answers after it.
    socket.end();
    assert.equal((await all).toString(), 'early bytes|later bytes<eof>');
  });

  it('applies backpressure: a client that does not read stops the app writing, and then gets every byte', async () => {
    const total = 64 * 1024 * 1024;
    let pumped = 0;
    const port = await mesh(
      await upgradingUpstream((socket) => {
        const chunk = Buffer.alloc(64 * 1024, 1);
        const pump = (): void => {
          while (pumped < total) {
            pumped += chunk.length;
            if (!socket.write(chunk)) return void socket.once('drain', pump);
          }
          socket.end();
        };
        pump();
      }),
    );
    const { socket } = await rawUpgrade(port, UPGRADE);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(pumped < total / 2, `the app wrote ${pumped} bytes while the client read nothing`);
    let got = 0;
    socket.on('data', (d: Buffer) => {
      got += d.length;
    });
    socket.resume();
    await new Promise<void>((r) => socket.once('end', () => r()));
    socket.destroy();
    assert.equal(got, total);
  });

  it('forwards a request with Upgrade and a body as a plain request, without the upgrade', async () => {
    const port = await mesh(await upgradingUpstream(echo));
    const r = await send({
      port,
      path: '/',
      method: 'POST',
      headers: { host: 'up', connection: 'upgrade', upgrade: 'weft-echo' },
      body: 'x',
    });
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), /^plain POST upgrade=- connection=(-|keep-alive)$/);
  });

  it('goes straight to an instance on this host, and closes its tunnel a drain period after it is deregistered', async () => {
    const upstreamPort = await upgradingUpstream(echo);
    const registered = new Map([['up-1', { instanceId: 'up-1', service: 'up', address: '127.0.0.1', port: upstreamPort }]]);
    const outbound = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource({ up: [endpoint({ service: 'up', instanceId: 'up-1', port: upstreamPort, agentId: 'agent-a' })] }),
      local: { get: (id) => registered.get(id) },
      logger: silentLogger,
      requestTimeoutMs: 5_000,
      host: '127.0.0.1',
      port: 0,
      tunnels: { drainMs: 300 },
    });
    cleanup.push(() => outbound.close());
    const { socket, answer } = await rawUpgrade(outbound.port, UPGRADE);
    assert.match(answer, /^HTTP\/1\.1 101 /);
    const all = readUntilEnd(socket);
    socket.write('before|');
    await new Promise((r) => setTimeout(r, 100));
    registered.delete('up-1');
    const deregisteredAt = Date.now();
    socket.write('during drain|');
    const got = (await all).toString();
    const ms = Date.now() - deregisteredAt;
    socket.destroy();
    assert.equal(got, 'before|during drain|');
    assert.ok(ms >= 250 && ms < 3_000, `closed ${ms} ms after deregistration (drain 300 ms)`);
  });

  it('passes on an app that declines the upgrade with a plain answer', async () => {
    const server = createHttpServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' });
      res.end('upgrade declined');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = await mesh((server.address() as AddressInfo).port);
    const r = await send({ port, path: '/', headers: { host: 'up', connection: 'upgrade', upgrade: 'weft-echo' } });
    assert.equal(r.status, 426);
    assert.equal(r.body.toString(), 'upgrade declined');
  });
});
