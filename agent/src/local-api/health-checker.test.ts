import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { type Health, silentLogger } from '@weft/shared';
import { HealthChecker } from './health-checker.js';

/** A real HTTP server whose /healthz status a test sets. */
async function toggleServer() {
  const state = { status: 200 };
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? state.status : 404);
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { state, port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function recorder() {
  const changes: Health[] = [];
  let notify: (() => void) | undefined;
  return {
    changes,
    onChange: (_id: string, h: Health) => {
      changes.push(h);
      notify?.();
    },
    /** Resolves once `count` changes were seen. */
    until: (count: number, timeoutMs = 3_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`saw ${JSON.stringify(changes)}, wanted ${count} changes`)), timeoutMs);
        const check = () => {
          if (changes.length >= count) {
            clearTimeout(timer);
            notify = undefined;
            resolve();
          }
        };
        notify = check;
        check();
      }),
  };
}

describe('HealthChecker', () => {
  it('HTTP: passing after one success, critical after two consecutive failures, passing again after one success', async () => {
    const srv = await toggleServer();
    const rec = recorder();
    const checker = new HealthChecker({ logger: silentLogger, onChange: rec.onChange });
    try {
      checker.watch('web-1', { address: '127.0.0.1', port: srv.port }, { kind: 'http', path: '/healthz', intervalMs: 100, timeoutMs: 500 });
      assert.equal(checker.status('web-1'), 'unknown');
      await rec.until(1);
      assert.deepEqual(rec.changes, ['passing']);
      srv.state.status = 500;
      await rec.until(2);
      assert.deepEqual(rec.changes, ['passing', 'critical']);
      srv.state.status = 204;
      await rec.until(3);
      assert.deepEqual(rec.changes, ['passing', 'critical', 'passing']);
      srv.state.status = 429;
      await rec.until(4);
      assert.deepEqual(rec.changes, ['passing', 'critical', 'passing', 'warning']);
    } finally {
      checker.close();
      await srv.close();
    }
  });

  it('one failure alone does not flip a passing instance', async () => {
    const srv = await toggleServer();
    const rec = recorder();
    let probes = 0;
    const server = http.createServer((_q, res) => {
      probes++;
      res.writeHead(probes === 2 ? 503 : 200);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const checker = new HealthChecker({ logger: silentLogger, onChange: rec.onChange });
    try {
      const port = (server.address() as AddressInfo).port;
      checker.watch('web-2', { address: '127.0.0.1', port }, { kind: 'http', path: '/', intervalMs: 100, timeoutMs: 500 });
      await rec.until(1);
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (probes >= 4) {
            clearInterval(t);
            resolve();
          }
        }, 20);
      });
      assert.deepEqual(rec.changes, ['passing']);
    } finally {
      checker.close();
      await new Promise<void>((r) => server.close(() => r()));
      await srv.close();
    }
  });

  it('TCP: critical after two failed connects, passing once the port accepts', async () => {
    const srv = await toggleServer();
    const port = srv.port;
    await srv.close(); // nothing listens on `port` now
    const rec = recorder();
    const checker = new HealthChecker({ logger: silentLogger, onChange: rec.onChange });
    let again: http.Server | undefined;
    try {
      checker.watch('db-1', { address: '127.0.0.1', port }, { kind: 'tcp', intervalMs: 100, timeoutMs: 500 });
      await rec.until(1);
      assert.deepEqual(rec.changes, ['critical']);
      again = http.createServer();
      const s = again;
      await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
      await rec.until(2);
      assert.deepEqual(rec.changes, ['critical', 'passing']);
    } finally {
      checker.close();
      const s = again;
      if (s) await new Promise<void>((r) => s.close(() => r()));
    }
  });

  it('unwatch stops probing', async () => {
    let probes = 0;
    const server = http.createServer((_q, res) => {
      probes++;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const checker = new HealthChecker({ logger: silentLogger, onChange: () => {} });
    try {
      const port = (server.address() as AddressInfo).port;
      checker.watch('x', { address: '127.0.0.1', port }, { kind: 'http', path: '/', intervalMs: 100, timeoutMs: 500 });
      await new Promise((r) => setTimeout(r, 150));
      checker.unwatch('x');
      const seen = probes;
      await new Promise((r) => setTimeout(r, 250));
      assert.ok(seen >= 1);
      assert.equal(probes, seen);
      assert.equal(checker.status('x'), undefined);
    } finally {
      checker.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
