import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '@weft/shared';
import type { Listener } from '../contracts.js';
import { AccessLog, type LineSink } from './access-log.js';
import { AccessLogOpenError, AccessLogWriter } from './access-log-writer.js';
import { startInboundListener } from './inbound-listener.js';
import { startOutboundListener } from './outbound-listener.js';
import { closedPort, endpoint, localInstances, send, startUpstream, staticSource } from './test-support.js';

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

/** Agent a's outbound listener and agent b's inbound listener, both logging, in front of `orders` on b. */
async function twoAgents(sampleRate = 1) {
  const sink = new MemorySink();
  const log = new AccessLog(sink, sampleRate);
  const app = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(`got ${Buffer.concat(chunks).length} bytes`));
  });
  cleanup.push(() => app.close());
  const inbound = await startInboundListener({
    agentId: 'agent-b',
    endpoints: staticSource({}),
    local: localInstances([{ instanceId: 'orders-b1', service: 'orders', address: '127.0.0.1', port: app.port }]),
    logger: silentLogger,
    requestTimeoutMs: 5_000,
    host: '127.0.0.1',
    port: 0,
    accessLog: log,
  });
  cleanup.push(() => inbound.close());
  const outbound = await outboundWith(
    {
      orders: [endpoint({ instanceId: 'orders-b1', agentId: 'agent-b', agentPort: inbound.port, port: app.port })],
      sick: [endpoint({ service: 'sick', instanceId: 'sick-1', health: 'critical', port: app.port })],
    },
    log,
  );
  return { sink, app, outbound };
}

async function outboundWith(services: Parameters<typeof staticSource>[0], log: AccessLog): Promise<Listener> {
  const outbound = await startOutboundListener({
    agentId: 'agent-a',
    endpoints: staticSource(services),
    local: localInstances([]),
    logger: silentLogger,
    requestTimeoutMs: 5_000,
    host: '127.0.0.1',
    port: 0,
    accessLog: log,
  });
  cleanup.push(() => outbound.close());
  return outbound;
}

/** The lines are written when each pipeline finishes, which may be just after the client has its answer. */
async function linesFor(sink: MemorySink, requestId: string, count: number): Promise<Line[]> {
  for (let i = 0; i < 100; i++) {
    const lines = sink.lines.filter((l) => l.requestId === requestId);
    if (lines.length >= count) return lines;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`expected ${count} access lines for ${requestId}, got ${JSON.stringify(sink.lines)}`);
}

describe('access log lines', () => {
  it("writes one line per listener for an app's answer, with the traceparent the app received", async () => {
    const { sink, app, outbound } = await twoAgents();
    const body = 'x'.repeat(1000);
    const r = await send({
      port: outbound.port,
      method: 'POST',
      path: '/orders/7?q=1',
      headers: { host: 'orders', 'x-request-id': 'req-app' },
      body,
    });
    assert.equal(r.status, 200);
    const lines = await linesFor(sink, 'req-app', 2);
    const out = lines.find((l) => l.direction === 'outbound');
    const inb = lines.find((l) => l.direction === 'inbound');
    assert.ok(out && inb, JSON.stringify(lines));
    const sent = app.seen.at(-1)?.headers.traceparent;
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
      assert.equal(l.source, '127.0.0.1', 'no authenticated identity: the client address');
      assert.ok(l.durationMs >= 0 && l.durationMs < 5_000);
      assert.ok(Math.abs(Date.parse(l.time) - Date.now()) < 10_000);
    }
  });

  it("keeps the caller's valid traceparent", async () => {
    const { sink, outbound } = await twoAgents();
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await send({ port: outbound.port, path: '/', headers: { host: 'orders', traceparent: tp, 'x-request-id': 'req-tp' } });
    for (const l of await linesFor(sink, 'req-tp', 2)) assert.equal(l.traceparent, tp);
  });

  it("writes the mesh's own answer with its x-weft-error code", async () => {
    const { sink, outbound } = await twoAgents();
    const r = await send({ port: outbound.port, path: '/x', headers: { host: 'sick', 'x-request-id': 'req-mesh' } });
    assert.equal(r.status, 503);
    const [l] = await linesFor(sink, 'req-mesh', 1);
    assert.equal(l?.direction, 'outbound');
    assert.equal(l?.service, 'sick');
    assert.equal(l?.status, 503);
    assert.equal(l?.error, r.headers['x-weft-error']);
    assert.equal(l?.error, 'no_healthy_endpoint');
    assert.equal(l?.bytesOut, r.body.length);
  });

  it('counts the retries of a request that reached a second endpoint', async () => {
    const sink = new MemorySink();
    const good = await startUpstream((req, res) => {
      req.resume();
      res.end('ok');
    });
    cleanup.push(() => good.close());
    const outbound = await outboundWith(
      {
        flaky: [
          endpoint({ service: 'flaky', instanceId: 'flaky-down', port: await closedPort() }),
          endpoint({ service: 'flaky', instanceId: 'flaky-up', port: good.port }),
        ],
      },
      new AccessLog(sink),
    );
    // The picker is random: send until one request tried the closed port first.
    let retried: Line | undefined;
    for (let i = 0; i < 30 && retried === undefined; i++) {
      const id = `req-retry-${i}`;
      const r = await send({ port: outbound.port, path: '/', headers: { host: 'flaky', 'x-request-id': id } });
      assert.equal(r.status, 200);
      const [l] = await linesFor(sink, id, 1);
      if (l !== undefined && l.retries > 0) retried = l;
    }
    assert.ok(retried, 'a request was retried');
    assert.equal(retried.retries, 1);
    assert.equal(retried.instance, 'flaky-up');
    assert.equal(retried.status, 200);
    assert.equal(retried.error, '');
  });

  it('writes no line at sample rate 0, and about half at 0.5', async () => {
    const none = await twoAgents(0);
    for (let i = 0; i < 20; i++) await send({ port: none.outbound.port, path: '/', headers: { host: 'orders' } });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(none.sink.lines.length, 0);

    const half = await twoAgents(0.5);
    for (let i = 0; i < 200; i++) await send({ port: half.outbound.port, path: '/', headers: { host: 'sick' } });
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(half.sink.lines.length > 50 && half.sink.lines.length < 150, `${half.sink.lines.length} of 200`);
  });
});

describe('access log writer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-access-log-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));

  it('appends lines to a file and opens it again on reopen (logrotate)', async () => {
    const file = join(dir, 'access.log');
    const w = new AccessLogWriter({ target: file, logger: silentLogger });
    w.write('{"n":1}');
    w.write('{"n":2}');
    await waitUntil(() => readFileSync(file, 'utf8') === '{"n":1}\n{"n":2}\n');
    renameSync(file, `${file}.1`);
    w.reopen();
    w.write('{"n":3}');
    await w.close();
    assert.equal(readFileSync(`${file}.1`, 'utf8'), '{"n":1}\n{"n":2}\n');
    assert.equal(readFileSync(file, 'utf8'), '{"n":3}\n');
  });

  it('refuses a path that cannot be opened, naming it', () => {
    const bad = join(dir, 'no-such-dir', 'access.log');
    assert.throws(
      () => new AccessLogWriter({ target: bad, logger: silentLogger }),
      (err: unknown) => err instanceof AccessLogOpenError && err.message.includes(bad) && /ENOENT/.test(err.message),
    );
  });

  it('never blocks on a disk that does not answer: it keeps a bounded buffer and counts the lines it drops', async () => {
    let dropped = 0;
    let writes = 0;
    const w = new AccessLogWriter({
      target: join(dir, 'stuck.log'),
      logger: silentLogger,
      maxBufferBytes: 1_000,
      onDropped: (n) => {
        dropped += n;
      },
      closeTimeoutMs: 10,
      writeFn: () => {
        writes++; // never calls back: the first batch stays in flight for ever
      },
    });
    const line = 'y'.repeat(99); // 100 bytes with its newline
    for (let i = 0; i < 1_000; i++) w.write(line);
    assert.equal(writes, 1, 'one write in flight at a time');
    // The first line went out in the stuck write; 10 more fit in the buffer; the rest were dropped.
    assert.equal(dropped, 1_000 - 1 - 10);
    await w.close();
  });

  it('drops and counts the lines of a write that fails', async () => {
    let dropped = 0;
    const w = new AccessLogWriter({
      target: join(dir, 'failing.log'),
      logger: silentLogger,
      onDropped: (n) => {
        dropped += n;
      },
      writeFn: (_fd, _buf, _off, _len, cb) => setImmediate(() => cb(Object.assign(new Error('no space'), { code: 'ENOSPC' }), 0)),
    });
    w.write('a');
    w.write('b');
    w.write('c');
    await w.close();
    assert.equal(dropped, 3);
  });
});

async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail('condition not met in 2 s');
}
