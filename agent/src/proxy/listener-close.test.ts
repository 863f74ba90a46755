import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '@weft/shared';
import { startOutboundListener } from './outbound-listener.js';
import { endpoint, localInstances, send, startUpstream, staticSource } from './test-support.js';

describe('listener close', () => {
  it('drains an in-flight slow request, then stops accepting', async () => {
    const slow = await startUpstream((_req, res) => {
      setTimeout(() => res.end('finally'), 300);
    });
    const proxy = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource({ slow: [endpoint({ service: 'slow', port: slow.port })] }),
      local: localInstances([]),
      logger: silentLogger,
      requestTimeoutMs: 5_000,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const pending = send({ port: proxy.port, path: '/', headers: { host: 'slow' } });
      while (slow.seen.length === 0) await new Promise((r) => setTimeout(r, 10));
      let closed = false;
      const closing = proxy.close().then(() => {
        closed = true;
      });
      const res = await pending;
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'finally');
      await closing;
      assert.equal(closed, true);
      await assert.rejects(send({ port: proxy.port, path: '/', headers: { host: 'slow' } }), /ECONNREFUSED/);
    } finally {
      await proxy.close();
      await slow.close();
    }
  });
});
