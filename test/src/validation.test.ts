import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { type AgentProc, type ControlPlaneProc, getJson, Mesh, postJson, servicesAtControlPlane } from './harness.js';

describe('bad registrations get a clear error naming the field, and nothing is stored', () => {
  const mesh = new Mesh();
  let cp: ControlPlaneProc;
  let a: AgentProc;

  before(async () => {
    cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
  });
  after(() => mesh.close());

  const cases: [string, unknown, RegExp][] = [
    ['a bad name', { name: 'Orders_Service!', port: 8080 }, /^name: invalid service name/],
    ['port 0', { name: 'orders', port: 0 }, /^port: must be 1\.\.65535/],
    ['port out of range', { name: 'orders', port: 70000 }, /^port: must be 1\.\.65535/],
    ['100 KB of metadata', { name: 'orders', port: 8080, metadata: { blob: 'x'.repeat(100 * 1024) } }, /^metadata: too large/],
    ['a missing name', { port: 8080 }, /^name: is required/],
    ['a missing port', { name: 'orders' }, /^port: is required/],
    ['a port of the wrong type', { name: 'orders', port: '8080' }, /^port: must be an integer, got a string/],
    ['tags of the wrong type', { name: 'orders', port: 8080, tags: 'v2' }, /^tags: must be an array/],
    ['a bad health check', { name: 'orders', port: 8080, health: { http: 'healthz' } }, /^health\.http: must be a path/],
    ['an unknown field', { name: 'orders', port: 8080, helth: {} }, /^helth: unknown field/],
    ['a body that is not JSON', '{"name": "orders",', /invalid JSON/],
  ];
  for (const [what, body, message] of cases) {
    test(`${what} via the agent admin API`, async () => {
      const r = await postJson(a.adminPort, '/v1/services', body);
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'invalid_argument');
      assert.match(String(r.json.message), message);
    });
  }

  test('nothing was stored, at the agent or at the control plane', async () => {
    const local = await getJson<unknown[] | { services: unknown[] }>(a.adminPort, '/v1/services');
    assert.equal(Array.isArray(local) ? local.length : local.services.length, 0);
    assert.equal((await servicesAtControlPlane(cp)).size, 0);
  });

  test('the control plane validates at its own edge: INVALID_ARGUMENT naming instances[i].field', async () => {
    const agentX = await mesh.agentClients(cp.grpcPort, 'agent-x');
    const client = agentX.registry;
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.Register(
          {
            agent: { agent_id: 'agent-x', address: '127.0.0.1', inbound_port: 15006 },
            instances: [
              { service: 'orders', instance_id: 'orders-ok', address: '127.0.0.1', port: 8080 },
              { service: 'orders', instance_id: 'orders-bad', address: '127.0.0.1', port: 0 },
            ],
          },
          (e) => resolve(e),
        ),
      );
      assert.ok(err, 'the registration was accepted');
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /^instances\[1\]\.port: must be 1\.\.65535/);
      assert.equal((await servicesAtControlPlane(cp)).size, 0, 'the valid instance in the same request was not written either');
    } finally {
      agentX.close();
    }
  });

  test('weft register prints the error and exits non-zero', () => {
    const r = spawnSync(
      process.execPath,
      [WEFT_BIN, 'register', '--name', 'orders', '--port', '0', '--agent', `127.0.0.1:${a.adminPort}`],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^weft: port: must be 1\.\.65535/);
  });
});
