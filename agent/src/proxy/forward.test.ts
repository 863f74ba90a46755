import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { createLogger } from '@weft/shared';
import { Http1Pool } from '../http1/client-pool.js';
import { ClientLink } from './client-link.js';
import { discard, sendOnce } from './forward.js';
import { startOutboundListener } from './outbound-listener.js';
import { endpoint, localInstances, startUpstream, staticSource } from './test-support.js';

describe('client link', () => {
  it('calls each listener once on abort, not the removed ones, and none added after', () => {
    const link = new ClientLink();
    const calls: string[] = [];
    const a = () => calls.push('a');
    const b = () => calls.push('b');
    const c = () => calls.push('c');
    link.addEventListener('abort', a);
    link.addEventListener('abort', b);
    link.addEventListener('abort', c);
    link.removeEventListener('abort', a);
    link.abort();
    link.abort();
    link.addEventListener('abort', a);
    assert.equal(link.aborted, true);
    assert.deepEqual(calls, ['b', 'c']);
  });
});

describe('one try (dispatch handler)', () => {
  it('drops a retried answer and keeps its keep-alive connection for the next request', async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('x'.repeat(200_000));
    });
    const pool = new Http1Pool('127.0.0.1', up.port, { keepAliveTimeoutMs: 4_000, connectTimeoutMs: 5_000 });
    try {
      for (let i = 0; i < 3; i++) {
        const outcome = await sendOnce(pool, {
          method: 'GET',
          path: '/',
          head: { lines: 'host: x\r\n', hasLength: false },
          body: null,
          timeoutMs: 5_000,
          clientGone: new ClientLink(),
        });
        assert.ok(outcome.ok);
        assert.equal(outcome.response.statusCode, 503);
        const closed = new Promise<void>((resolve) => outcome.response.body.whenClosed(resolve));
        discard(outcome.response);
        await closed;
      }
      assert.equal(pool.stats.connections, 1);
    } finally {
      await pool.close();
      await up.close();
    }
  });

  it('fails with timeout, without waiting for the connection, when no head arrives in time', async () => {
    const up = await startUpstream(() => {});
    const pool = new Http1Pool('127.0.0.1', up.port, { keepAliveTimeoutMs: 4_000, connectTimeoutMs: 5_000 });
    try {
      const outcome = await sendOnce(pool, {
        method: 'GET',
        path: '/',
        head: { lines: 'host: x\r\n', hasLength: false },
        body: null,
        timeoutMs: 50,
        clientGone: new ClientLink(),
      });
      assert.equal(outcome.ok, false);
      assert.equal(!outcome.ok && outcome.kind, 'timeout');
    } finally {
      await pool.close(false);
      await up.close();
    }
  });

  it('aborts the upstream transfer when the client leaves mid-body', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => {
      upstreamClosed = resolve;
    });
    const slow = await startUpstream((_req, res) => {
      res.on('close', () => upstreamClosed());
      res.writeHead(200, { 'content-length': '1000000' });
      res.write('x'.repeat(1000)); // then never finishes
    });
    const proxy = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource({ slow: [endpoint({ service: 'slow', port: slow.port })] }),
      local: localInstances([]),
      logger: createLogger({}, { level: 'error' }),
      requestTimeoutMs: 5_000,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: proxy.port, path: '/', headers: { host: 'slow' }, agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => {});
        req.on('close', () => resolve());
        setTimeout(() => reject(new Error('no body byte arrived')), 3_000).unref();
        req.end();
      });
      await closed;
    } finally {
      await proxy.close();
      await slow.close();
    }
  });
});
