/**
 * Group commit keeps durability: every registration the control plane
 * acknowledged survives `kill -9` right after the acknowledgements.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Mesh, servicesAtControlPlane } from './harness.js';

const N = 300;

test('every acknowledged registration survives kill -9 of the control plane', async () => {
  const mesh = new Mesh();
  after(() => mesh.close());
  const cp = await mesh.controlPlane({ leaseTtl: '60s', restartGrace: '60s' });
  // Each agent calls with its own certificate (the control plane takes the agent from it).
  const ids = ['dur-owner', 'dur-bad', 'dur-thief', ...Array.from({ length: 30 }, (_, i) => `dur-agent-${i}`)];
  const agents = new Map(await Promise.all(ids.map(async (id) => [id, await mesh.agentClients(cp.grpcPort, id)] as const)));
  after(() => {
    for (const a of agents.values()) a.close();
  });

  const register = (agentId: string, instanceId: string, service: string, port = 8080) =>
    new Promise<void>((resolve, reject) => {
      agents.get(agentId)!.registry.Register(
        {
          agent: { agent_id: agentId, hostname: agentId, address: '127.0.0.1', inbound_port: 15006, zone: '', version: 'test' },
          instances: [{ service, instance_id: instanceId, address: '127.0.0.1', port }],
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  await register('dur-owner', 'dur-owned', 'dur-svc-0');

  // All calls in flight at once, from 30 agents: they are group-committed in a few transactions.
  const calls = Array.from({ length: N }, (_, i) => register(`dur-agent-${i % 30}`, `dur-${i}`, `dur-svc-${i % 7}`));
  // Failures in the same turn fail alone: one refused at validation, one inside the batch (id owned by another agent).
  const invalid = register('dur-bad', 'dur-bad-1', 'dur-svc-0', 70000).then(
    () => null,
    (err: grpc.ServiceError) => err.code,
  );
  const conflict = register('dur-thief', 'dur-owned', 'dur-svc-0').then(
    () => null,
    (err: grpc.ServiceError) => err.code,
  );
  await Promise.all(calls);
  assert.deepEqual(await Promise.all([invalid, conflict]), [grpc.status.INVALID_ARGUMENT, grpc.status.INVALID_ARGUMENT]);
  await cp.stop('SIGKILL');

  const cp2 = await mesh.controlPlane({ dataDir: cp.dataDir, leaseTtl: '60s', restartGrace: '60s' });
  const services = await servicesAtControlPlane(cp2);
  const stored = new Set([...services.values()].flat());
  const missing = [...Array.from({ length: N }, (_, i) => `dur-${i}`), 'dur-owned'].filter((id) => !stored.has(id));
  assert.deepEqual(missing, [], 'acknowledged registrations lost by kill -9');
  assert.equal(stored.size, N + 1);
});
