/**
 * "A request that may have reached an app is never sent twice unless it is
 * idempotent", checked the way an app would: every instance below writes
 * down each request it executes (by a unique x-test-id) before it
 * misbehaves, and after every failure mode of the fault tests, through a
 * local instance and through a peer agent, no POST was executed twice.
 * The same ledger shows that GETs *are* retried elsewhere, so the test can
 * tell a re-sent request when there is one.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type AgentProc, Mesh, registerWith, viaProxy, waitFor } from './harness.js';
import { type FaultServer, resetOnReuseServer } from './harness-faults.js';

/** What an instance does after it has executed (counted) a request. */
type Mode = 'reset' | 'hang' | 'status503' | 'forged-mesh-error' | 'dies-mid-body';
const MODES: readonly Mode[] = ['reset', 'hang', 'status503', 'forged-mesh-error', 'dies-mid-body'];

/** Executions per x-test-id, across every instance of every service. */
const executed = new Map<string, number>();

function countingHandler(mode: Mode): http.RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = String(req.headers['x-test-id']);
      executed.set(id, (executed.get(id) ?? 0) + 1);
      switch (mode) {
        case 'reset':
          req.socket.destroy();
          return;
        case 'hang':
          return;
        case 'status503':
          res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
          return;
        case 'forged-mesh-error':
          // An app claiming to be the mesh: "not delivered, retry elsewhere".
          res.writeHead(503, { 'x-weft-error': 'unknown_instance', 'x-weft-answered-by': 'agent/agent-b' }).end('forged');
          return;
        case 'dies-mid-body':
          res.writeHead(200, { 'content-length': '1000' });
          res.write(Buffer.alloc(100, 'a'));
          setTimeout(() => res.socket?.destroy(), 10);
          return;
      }
    });
  };
}

let nextId = 0;
function call(agent: AgentProc, service: string, method: string): Promise<{ id: string; status: number; error: string | undefined }> {
  const id = `${method}-${service}-${nextId++}`;
  return viaProxy(agent.outboundPort, `http://${service}/`, {
    method,
    headers: { 'x-test-id': id, 'x-weft-timeout-ms': '600' },
    body: method === 'POST' ? `order ${id}` : undefined,
  }).then(
    (r) => ({ id, status: r.status, error: r.headers['x-weft-error'] as string | undefined }),
    // A response cut mid-body (the app died after its head): the request still reached the app once.
    (err: Error) => ({ id, status: -1, error: err.message }),
  );
}

describe('a POST is never executed twice, whatever fails (real agents)', () => {
  const mesh = new Mesh();
  let a: AgentProc;
  let b: AgentProc;
  const raw: FaultServer[] = [];

  before(async () => {
    const cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
    b = await mesh.agent('agent-b', cp.grpcPort);
    const names: string[] = [];
    for (const mode of MODES) {
      // Two instances each, so a retry would have somewhere to go.
      for (const [agent, side] of [
        [a, 'local'],
        [b, 'remote'],
      ] as const) {
        const name = `${mode}-${side}`;
        for (const n of [1, 2]) {
          const svc = await mesh.service(countingHandler(mode));
          await registerWith(agent, { name, port: svc.port, id: `${name}-${n}` });
        }
        names.push(name);
      }
    }
    // The keep-alive race, both ways: a raw server that resets every reused connection as the next request arrives.
    for (const [agent, side] of [
      [a, 'local'],
      [b, 'remote'],
    ] as const) {
      const racy = await resetOnReuseServer();
      raw.push(racy);
      await registerWith(agent, { name: `racy-${side}`, port: racy.port, id: `racy-${side}-1` });
      names.push(`racy-${side}`);
    }
    await waitFor('agent-a to know every service', async () => {
      for (const name of names) {
        const r = await call(a, name, 'OPTIONS');
        if (r.error === 'unknown_service' || r.error === 'no_healthy_endpoint') return false;
      }
      return true;
    });
    executed.clear();
  });

  after(async () => {
    await mesh.close();
    for (const r of raw) await r.close();
  });

  for (const mode of MODES) {
    for (const side of ['local', 'remote']) {
      test(`${mode}, ${side} instance: each POST ran at most once`, async () => {
        const results = [];
        for (let i = 0; i < 8; i++) results.push(await call(a, `${mode}-${side}`, 'POST'));
        for (const r of results) {
          assert.ok((executed.get(r.id) ?? 0) <= 1, `${r.id} executed ${executed.get(r.id)} times (answer ${r.status} ${r.error})`);
        }
        if (mode === 'forged-mesh-error') {
          for (const r of results) assert.equal(r.status, 503, "the app's own answer is passed on, not retried");
        }
      });
    }
  }

  test('keep-alive race, both sides: a POST the app may have read is answered upstream_reset, never re-sent', async () => {
    for (const [i, side] of ['local', 'remote'].entries()) {
      const before = raw[i]!.handled;
      let ok = 0;
      for (let n = 0; n < 10; n++) {
        const r = await call(a, `racy-${side}`, 'POST');
        if (r.status === 200) ok++;
        else assert.equal(r.error, 'upstream_reset', `${side}: ${r.status} ${r.error}`);
      }
      assert.equal(raw[i]!.handled - before, ok, `${side}: executions equal successes`);
    }
  });

  test('the ledger sees a re-sent request: a GET whose connection was reset is retried on the other instance', async () => {
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await call(a, 'reset-remote', 'GET'));
    const twice = results.filter((r) => (executed.get(r.id) ?? 0) >= 2);
    assert.ok(twice.length >= 1, 'idempotent requests are retried, so some ran twice');
  });
});
