import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { ListAgentsResponse__Output } from '@weft/shared/generated/weft/v1/ListAgentsResponse';
import type { ListServicesResponse__Output } from '@weft/shared/generated/weft/v1/ListServicesResponse';
import type { RegisterResponse__Output } from '@weft/shared/generated/weft/v1/RegisterResponse';
import { agentInfo, type Harness, instance, startHarness } from '../test-support.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const register = (req: object) => h.call<RegisterResponse__Output>('Register', req);
const listServices = () => h.call<ListServicesResponse__Output>('ListServices', {});

async function assertRejected(p: Promise<unknown>, code: number, message: RegExp | string): Promise<void> {
  await assert.rejects(p, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, err.details);
    if (typeof message === 'string') assert.equal(err.details, message);
    else assert.match(err.details, message);
    return true;
  });
}

test('bad registrations fail with INVALID_ARGUMENT naming the field, and store nothing', async () => {
  const agent = agentInfo('agent-1');
  const cases: [object, RegExp | string][] = [
    [{ agent, instances: [instance('orders', 'o1', { port: 0 })] }, 'instances[0].port: must be 1..65535'],
    [{ agent, instances: [instance('orders', 'o1'), instance('Bad_Name', 'o2')] }, /^instances\[1\]\.service: invalid service name/],
    [{ agent, instances: [instance('orders', 'o1', { metadata: { big: 'x'.repeat(100 * 1024) } })] }, /^instances\[0\]\.metadata/],
    [{ agent, instances: [instance('', 'o1')] }, 'instances[0].service: is required'],
    [{ agent, instances: [instance('orders', '')] }, 'instances[0].instance_id: is required'],
    [{ agent, instances: [{ service: 'orders', instance_id: 'o1', port: 80 }] }, /^instances\[0\]\.address/],
    [{ agent, instances: [instance('orders', 'o1'), instance('orders', 'o1')] }, /^instances\[1\]\.instance_id: duplicate/],
    [{ instances: [instance('orders', 'o1')] }, 'agent: is required'],
    [{ agent: { ...agent, agent_id: '' }, instances: [] }, 'agent.agent_id: is required'],
    [{ agent: { ...agent, inbound_port: 70000 }, instances: [] }, 'agent.inbound_port: must be 1..65535'],
    [{ agent: { ...agent, address: 'not an address' }, instances: [] }, /^agent\.address: invalid address/],
  ];
  for (const [req, message] of cases) await assertRejected(register(req), grpc.status.INVALID_ARGUMENT, message);
  const services = await listServices();
  assert.equal(services.revision, '0');
  assert.deepEqual(services.services, []);
  const agents = await h.call<ListAgentsResponse__Output>('ListAgents', {});
  assert.deepEqual(agents.agents, []);
});

test('an instance id owned by another agent is refused and nothing is written', async () => {
  await register({ agent: agentInfo('owner'), instances: [instance('payments', 'p1')] });
  const before = await listServices();
  await assertRejected(
    register({ agent: agentInfo('thief'), instances: [instance('payments', 'p2'), instance('payments', 'p1')] }),
    grpc.status.INVALID_ARGUMENT,
    /^instances\[1\]\.instance_id: instance "p1" is already registered by agent "owner"/,
  );
  assert.deepEqual(await listServices(), before);
});

test('unknown instances on Deregister and SetHealth are NOT_FOUND', async () => {
  await assertRejected(h.call('Deregister', { agent_id: 'agent-1', instance_ids: ['ghost'] }), grpc.status.NOT_FOUND, /ghost/);
  await assertRejected(
    h.call('SetHealth', { agent_id: 'agent-1', instance_id: 'ghost', health: 'HEALTH_PASSING' }),
    grpc.status.NOT_FOUND,
    /ghost/,
  );
  await assertRejected(h.call('Deregister', { agent_id: 'agent-1', instance_ids: [] }), grpc.status.INVALID_ARGUMENT, /^instance_ids:/);
});

test('register, set health, list and deregister round-trip through the API', async () => {
  const agent = agentInfo('host-2', 15006, '10.0.0.2');
  const reg = await register({
    agent,
    instances: [instance('zeta', 'z2', { tags: ['v1'] }), instance('alpha', 'a1'), instance('zeta', 'z1', { weight: 5 })],
  });
  assert.deepEqual(reg.instance_ids, ['z2', 'a1', 'z1']);
  const health = await h.call<{ revision: string }>('SetHealth', { agent_id: 'host-2', instance_id: 'z1', health: 'HEALTH_PASSING' });
  assert.equal(Number(health.revision), Number(reg.revision) + 1);

  const list = await listServices();
  const names = list.services.map((s) => s.name);
  assert.deepEqual(names, [...names].sort());
  const zeta = list.services.find((s) => s.name === 'zeta')!;
  assert.equal(zeta.version, health.revision);
  assert.deepEqual(
    zeta.instances.map((i) => [i.instance_id, i.agent_id, i.weight, i.health]),
    [
      ['z1', 'host-2', 5, 'HEALTH_PASSING'],
      ['z2', 'host-2', 1, 'HEALTH_UNKNOWN'],
    ],
  );

  const agents = await h.call<ListAgentsResponse__Output>('ListAgents', {});
  const status = agents.agents.find((a) => a.agent?.agent_id === 'host-2')!;
  assert.equal(status.connected, false);
  assert.equal(status.instances, 3);
  assert.ok(Number(status.lease_expires_at_ms) > Date.now());

  const dereg = await h.call<{ removed: number }>('Deregister', { agent_id: 'host-2', instance_ids: ['z1', 'z2', 'a1'] });
  assert.equal(dereg.removed, 3);
  assert.ok(!(await listServices()).services.some((s) => s.name === 'zeta' || s.name === 'alpha'));
});
