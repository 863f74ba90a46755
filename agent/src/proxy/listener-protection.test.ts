import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@weft/shared';
import type { Listener } from '../contracts.js';
import { rawExchange } from './fault-upstreams.js';
import { startInboundListener } from './inbound-listener.js';
import { startOutboundListener } from './outbound-listener.js';
import { endpoint, localInstances, send, startUpstream, staticSource, type Upstream } from './test-support.js';

describe('listener protection (raw sockets)', () => {
  let app: Upstream;
  let outbound: Listener;
  let inbound: Listener;

  before(async () => {
    app = await startUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    const limits = { headersTimeoutMs: 300, requestReadTimeoutMs: 600, timeoutCheckIntervalMs: 100 };
    outbound = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource({ orders: [endpoint({ port: app.port })] }),
      local: localInstances([]),
      logger: silentLogger,
      requestTimeoutMs: 5_000,
      host: '127.0.0.1',
      port: 0,
      limits,
    });
    inbound = await startInboundListener({
      agentId: 'agent-b',
      endpoints: staticSource({}),
      local: localInstances([{ instanceId: 'o1', service: 'orders', address: '127.0.0.1', port: app.port }]),
      logger: silentLogger,
      requestTimeoutMs: 5_000,
      host: '127.0.0.1',
      port: 0,
      limits,
    });
  });

  after(async () => {
    await outbound.close();
    await inbound.close();
    await app.close();
  });

  async function stillServes(): Promise<void> {
    const r = await send({ port: outbound.port, path: '/', headers: { host: 'orders' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'ok');
  }

  const cases: { name: string; head: string; status: number; body: RegExp }[] = [
    {
      name: 'Content-Length together with Transfer-Encoding',
      head: 'POST / HTTP/1.1\r\nHost: orders\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      status: 400,
      body: /smuggling|malformed/,
    },
    {
      name: 'conflicting duplicate Content-Length',
      head: 'POST / HTTP/1.1\r\nHost: orders\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      status: 400,
      body: /smuggling|malformed/,
    },
    {
      name: 'a Transfer-Encoding that does not end in chunked',
      head: 'POST / HTTP/1.1\r\nHost: orders\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
      status: 400,
      body: /smuggling|malformed/,
    },
    {
      name: 'a head over 16 KiB',
      head: `GET / HTTP/1.1\r\nHost: orders\r\nx-big: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
      status: 431,
      body: /larger than 16384 bytes/,
    },
    {
      name: 'more than 100 header fields',
      head: `GET / HTTP/1.1\r\nHost: orders\r\n${Array.from({ length: 101 }, (_, i) => `x-h${i}: v\r\n`).join('')}\r\n`,
      status: 431,
      body: /more than 100 header fields/,
    },
    {
      name: 'two Host headers',
      head: 'GET / HTTP/1.1\r\nHost: orders\r\nHost: evil\r\n\r\n',
      status: 400,
      body: /host: sent 2 times/,
    },
    {
      name: 'an invalid Host',
      head: 'GET / HTTP/1.1\r\nHost: orders/../x y\r\n\r\n',
      status: 400,
      body: /host: .*not a valid host/,
    },
    {
      name: 'HTTP/1.1 without Host',
      head: 'GET / HTTP/1.1\r\n\r\n',
      status: 400,
      body: /host: missing/,
    },
  ];

  for (const c of cases) {
    it(`answers ${c.status} bad_request to ${c.name}, on both listeners, and keeps serving`, async () => {
      for (const port of [outbound.port, inbound.port]) {
        const r = await rawExchange(port, [c.head]);
        assert.equal(r.status, c.status, r.text.slice(0, 200));
        assert.equal(r.headers['x-weft-error'], 'bad_request');
        assert.match(r.text, c.body);
      }
      await stillServes();
    });
  }

  it('answers 408 to a client that sends its head too slowly (slowloris)', async () => {
    const started = Date.now();
    const r = await rawExchange(outbound.port, ['GET / HTTP/1.1\r\n', 'Host: orders\r\n', 'x-a: 1\r\n', 'x-b: 1\r\n', 'x-c: 1\r\n'], {
      gapMs: 200,
      waitMs: 3_000,
    });
    assert.equal(r.status, 408, r.text);
    assert.equal(r.headers['x-weft-error'], 'bad_request');
    assert.ok(r.closed);
    assert.ok(Date.now() - started < 2_500);
    await stillServes();
  });

  it('answers 408 to a client that sends its body too slowly', async () => {
    const r = await rawExchange(
      outbound.port,
      ['POST / HTTP/1.1\r\nHost: orders\r\nContent-Length: 100\r\n\r\n', 'a', 'b', 'c', 'd', 'e', 'f'],
      {
        gapMs: 200,
        waitMs: 3_000,
      },
    );
    assert.equal(r.status, 408, r.text);
    assert.equal(r.headers['x-weft-error'], 'bad_request');
    assert.match(r.text, /whole request within 600 ms/);
    assert.ok(r.closed);
    await stillServes();
  });
});
