/**
 * TCP services through the proxy with real listeners: CONNECT on the
 * outbound listener, the mesh-hop CONNECT to a peer agent's inbound
 * listener (its refusals marked as its own), retries of connections that
 * were not delivered, and the tunnels' absolute timeout.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import type { Endpoint } from '@weft/shared';
import { MetricsRegistry, silentLogger } from '@weft/shared';
import { startInboundListener } from './inbound-listener.js';
import { startOutboundListener } from './outbound-listener.js';
import { ProxyMetrics } from './proxy-metrics.js';
import { closedPort, endpoint, localInstances, staticSource } from './test-support.js';
import type { TunnelOptions } from './tunnel-registry.js';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function echoServer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
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

/** Sends a CONNECT (with `extra` header lines) and resolves with the answer head, the socket and the bytes after the head. */
function rawConnect(port: number, target: string, extra = ''): Promise<{ status: number; head: string; socket: Socket; rest: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      resolve({ status: Number(buf.split(' ')[1]), head: buf.slice(0, end), socket, rest: buf.slice(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n${extra}\r\n`);
  });
}

function echoOnce(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) {
        socket.destroy();
        resolve(got);
      }
    });
    socket.once('error', reject);
    socket.write(text);
  });
}

async function inbound(local: { instanceId: string; port: number }[]) {
  const l = await startInboundListener({
    agentId: 'agent-b',
    endpoints: staticSource({}),
    local: localInstances(local.map((i) => ({ ...i, service: 'db', address: '127.0.0.1' }))),
    logger: silentLogger,
    requestTimeoutMs: 5_000,
    host: '127.0.0.1',
    port: 0,
  });
  cleanup.push(() => l.close());
  return l;
}

async function outbound(services: Record<string, Endpoint[]>, tunnels?: Partial<TunnelOptions>) {
  const metrics = new ProxyMetrics(new MetricsRegistry());
  const l = await startOutboundListener({
    agentId: 'agent-a',
    endpoints: staticSource(services),
    local: localInstances([]),
    logger: silentLogger,
    requestTimeoutMs: 5_000,
    host: '127.0.0.1',
    port: 0,
    metrics,
    tunnels,
  });
  cleanup.push(() => l.close());
  return { port: l.port, metrics: () => metrics.registry.render(), upstreams: l.upstreams };
}

const tcp = (fields: Partial<Endpoint> & { port: number }) => endpoint({ service: 'db', protocol: 'tcp', ...fields });

describe('TCP services through the proxy', () => {
  it('the peer agent refuses a CONNECT without x-weft-instance, and one for an unknown instance, as its own answers', async () => {
    const b = await inbound([]);
    const missing = await rawConnect(b.port, 'db:5432');
    missing.socket.destroy();
    assert.equal(missing.status, 400);
    assert.match(missing.head, /x-weft-error: bad_request/);
    assert.match(missing.head, /x-weft-answered-by: agent\/agent-b/);
    const unknown = await rawConnect(b.port, 'db:5432', 'x-weft-instance: nope\r\n');
    unknown.socket.destroy();
    assert.equal(unknown.status, 503);
    assert.match(unknown.head, /x-weft-error: unknown_instance/);
    assert.match(unknown.head, /x-weft-answered-by: agent\/agent-b/);
  });

  it('a connection the peer could not deliver (unknown_instance) is made to another endpoint', async () => {
    const echo = await echoServer();
    const b = await inbound([{ instanceId: 'db-1', port: echo }]);
    const a = await outbound({
      db: [
        tcp({ instanceId: 'db-gone', port: echo, agentId: 'agent-b', agentPort: b.port }),
        tcp({ instanceId: 'db-1', port: echo, agentId: 'agent-b', agentPort: b.port }),
      ],
    });
    for (let i = 0; i < 12; i++) {
      const c = await rawConnect(a.port, 'db:5432');
      assert.equal(c.status, 200, c.head);
      assert.equal(await echoOnce(c.socket, `hello ${i}`), `hello ${i}`);
    }
    assert.match(
      a.metrics(),
      /weft_proxy_tunnel_connect_failures_total\{direction="outbound",service="db"\} 1\n/,
      'tried once, then ejected',
    );
    assert.match(a.metrics(), /weft_proxy_tunnels_total\{direction="outbound",service="db",kind="tcp"\} 12/);
  });

  it('answers CONNECT with the mesh error when no endpoint can be reached', async () => {
    const dead = await closedPort();
    const a = await outbound({ db: [tcp({ port: dead, agentId: 'agent-a' })] });
    const c = await rawConnect(a.port, 'db:5432');
    c.socket.destroy();
    assert.equal(c.status, 502);
    assert.match(c.head, /x-weft-error: upstream_connect_failed/);
    assert.match(c.rest, /service db: connect to 127\.0\.0\.1:\d+ failed \(ECONNREFUSED\)/);
  });

  it('closes a tunnel at its absolute timeout however busy it is', async () => {
    const echo = await echoServer();
    const a = await outbound({ db: [tcp({ port: echo, agentId: 'agent-a' })] }, { maxDurationMs: 300 });
    const c = await rawConnect(a.port, 'db:5432');
    assert.equal(c.status, 200);
    const openedAt = Date.now();
    const keepBusy = setInterval(() => c.socket.write('tick'), 20);
    c.socket.resume();
    await new Promise<void>((r) => {
      c.socket.once('end', r).once('close', r);
    });
    clearInterval(keepBusy);
    c.socket.destroy();
    const ms = Date.now() - openedAt;
    assert.ok(ms >= 250 && ms < 2_000, `closed after ${ms} ms`);
    // The client sees the close as the agent cuts both sides; the tunnel is counted once both are closed.
    const closes = /weft_proxy_tunnel_closes_total\{direction="outbound",service="db",kind="tcp",reason="max_duration"\} 1/;
    for (let i = 0; i < 50 && !closes.test(a.metrics()); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(a.metrics(), closes);
  });

  it('a local upstream port leads to the service, and closes a connection it cannot place', async () => {
    const echo = await echoServer();
    const a = await outbound({
      db: [tcp({ port: echo, agentId: 'agent-a' })],
      web: [endpoint({ service: 'web', port: echo, agentId: 'agent-a' })],
    });
    const port = await a.upstreams.open({ service: 'db', localPort: 0 });
    const s = connect({ host: '127.0.0.1', port });
    assert.equal(await echoOnce(s, 'via local port'), 'via local port');
    // An HTTP service is never reached as a byte stream.
    const webPort = await a.upstreams.open({ service: 'web', localPort: 0 });
    const w = connect({ host: '127.0.0.1', port: webPort });
    w.on('error', () => {});
    await new Promise<void>((r) => w.once('close', () => r()).resume());
  });
});
