/**
 * The access log on the HTTP/2 pipeline: the same fields as for HTTP/1.1
 * (access-log.ts), written by both agents for an h2c call through the mesh.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { silentLogger } from '@weft/shared';
import { AccessLog, type LineSink } from './access-log.js';
import { h2request, startH2App } from './h2-test-support.js';
import { startInboundListener } from './inbound-listener.js';
import { startOutboundListener } from './outbound-listener.js';
import { endpoint, localInstances, staticSource } from './test-support.js';

interface Line {
  time: string;
  direction: string;
  requestId: string;
  traceparent: string;
  source: string;
  service: string;
  instance: string;
  method: string;
  path: string;
  status: number;
  error: string;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  retries: number;
}

const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

class MemorySink implements LineSink {
  readonly lines: Line[] = [];
  write(line: string): void {
    this.lines.push(JSON.parse(line) as Line);
  }
}

async function linesFor(sink: MemorySink, requestId: string, count: number): Promise<Line[]> {
  for (let i = 0; i < 100; i++) {
    const lines = sink.lines.filter((l) => l.requestId === requestId);
    if (lines.length >= count) return lines;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`expected ${count} access lines for ${requestId}, got ${JSON.stringify(sink.lines)}`);
}

/** Agent a (outbound) and agent b (inbound), both logging, in front of an h2c app `orders` on b. */
async function twoAgents() {
  const sink = new MemorySink();
  const log = new AccessLog(sink);
  const app = await startH2App((stream) => {
    let n = 0;
    stream.on('data', (c: Buffer) => {
      n += c.length;
    });
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end(`got ${n} bytes`);
    });
  });
  cleanup.push(() => app.close());
  const inbound = await startInboundListener({
    agentId: 'agent-b',
    endpoints: staticSource({}),
    local: localInstances([{ instanceId: 'orders-b1', service: 'orders', address: '127.0.0.1', port: app.port, protocol: 'http2' }]),
    logger: silentLogger,
    requestTimeoutMs: 5_000,
    host: '127.0.0.1',
    port: 0,
    accessLog: log,
  });
  cleanup.push(() => inbound.close());
  const outbound = await startOutboundListener({
    agentId: 'agent-a',
    endpoints: staticSource({
      orders: [endpoint({ instanceId: 'orders-b1', agentId: 'agent-b', agentPort: inbound.port, port: app.port, protocol: 'http2' })],
      sick: [endpoint({ service: 'sick', instanceId: 'sick-1', health: 'critical', port: app.port, protocol: 'http2' })],
    }),
    local: localInstances([]),
    logger: silentLogger,
    requestTimeoutMs: 5_000,
    host: '127.0.0.1',
    port: 0,
    accessLog: log,
  });
  cleanup.push(() => outbound.close());
  return { sink, app, outbound };
}

describe('access log lines for HTTP/2 streams', () => {
  it("writes one line per agent for an app's answer, with the traceparent the app received", async () => {
    const { sink, app, outbound } = await twoAgents();
    const r = await h2request(
      outbound.port,
      { ':path': '/orders/7?q=1', ':authority': 'orders', 'x-request-id': 'h2-app' },
      'x'.repeat(1000),
    );
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.body.toString(), 'got 1000 bytes');
    const lines = await linesFor(sink, 'h2-app', 2);
    const out = lines.find((l) => l.direction === 'outbound');
    const inb = lines.find((l) => l.direction === 'inbound');
    assert.ok(out && inb, JSON.stringify(lines));
    const sent = app.seen.at(-1)?.traceparent;
    assert.match(String(sent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    for (const l of [out, inb]) {
      assert.equal(l.service, 'orders');
      assert.equal(l.instance, 'orders-b1');
      assert.equal(l.method, 'POST');
      assert.equal(l.path, '/orders/7?q=1');
      assert.equal(l.status, 200);
      assert.equal(l.error, '');
      assert.equal(l.bytesIn, 1000);
      assert.equal(l.bytesOut, r.body.length);
      assert.equal(l.retries, 0);
      assert.equal(l.traceparent, sent, 'the traceparent sent upstream, the same on both agents');
      assert.equal(l.source, '127.0.0.1');
      assert.ok(l.durationMs >= 0 && l.durationMs < 5_000);
      assert.ok(Math.abs(Date.parse(l.time) - Date.now()) < 10_000);
    }
  });

  it("keeps the caller's valid traceparent", async () => {
    const { sink, app, outbound } = await twoAgents();
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await h2request(outbound.port, { ':path': '/', ':authority': 'orders', traceparent: tp, 'x-request-id': 'h2-tp' });
    for (const l of await linesFor(sink, 'h2-tp', 2)) assert.equal(l.traceparent, tp);
    assert.equal(app.seen.at(-1)?.traceparent, tp);
  });

  it("writes the mesh's own answer with its x-weft-error code and body size", async () => {
    const { sink, outbound } = await twoAgents();
    const r = await h2request(outbound.port, { ':path': '/x', ':authority': 'sick', 'x-request-id': 'h2-mesh' });
    assert.equal(r.headers[':status'], 503);
    const [l] = await linesFor(sink, 'h2-mesh', 1);
    assert.equal(l?.direction, 'outbound');
    assert.equal(l?.service, 'sick');
    assert.equal(l?.status, 503);
    assert.equal(l?.error, 'no_healthy_endpoint');
    assert.equal(l?.error, r.headers['x-weft-error']);
    assert.equal(l?.bytesOut, r.body.length);
  });
});
