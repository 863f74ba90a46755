import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { ListAgentsResponse__Output } from '@weft/shared/generated/weft/v1/ListAgentsResponse';
import type { RegisterResponse__Output } from '@weft/shared/generated/weft/v1/RegisterResponse';
import { agentInfo, type Harness, instance, startHarness, TestStream } from '../test-support.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

/** Each test uses its own service and agent names, so tests share one control plane. */
async function register(agentId: string, instances: object[], replaceAll = false): Promise<string> {
  const res = await h.call<RegisterResponse__Output>('Register', { agent: agentInfo(agentId), instances, replace_all: replaceAll });
  return res.revision;
}

async function agentStatus(agentId: string) {
  const res = await h.call<ListAgentsResponse__Output>('ListAgents', {});
  return res.agents.find((a) => a.agent?.agent_id === agentId);
}

function open(agentId: string, req: object = {}): TestStream {
  return new TestStream(h.discovery).send({ agent: agentInfo(agentId), ...req });
}

test('a stream whose first request has no agent is closed with INVALID_ARGUMENT', async () => {
  const s = new TestStream(h.discovery).send({ subscribe: ['endpoints/x'] });
  const status = await s.ended();
  assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
  assert.match(status.details, /^agent: is required/);
});

test('answers a new subscription at once: the resource, or not_found', async () => {
  const version = await register('sub-owner', [instance('sub-a', 'sa1')]);
  const s = open('sub-agent', { subscribe: ['endpoints/sub-a', 'endpoints/sub-missing', 'routes/sub-a', 'garbage'] });
  try {
    const r = await s.next();
    assert.equal(r.nonce, '1');
    assert.deepEqual(
      r.resources.map((x) => [x.name, x.version]),
      [['endpoints/sub-a', version]],
    );
    const ep = r.resources[0].endpoints!.endpoints[0];
    assert.deepEqual([ep.instance_id, ep.agent_id, ep.agent_address, ep.agent_port], ['sa1', 'sub-owner', '10.0.0.1', 15006]);
    assert.deepEqual(r.not_found, ['endpoints/sub-missing', 'garbage', 'routes/sub-a']);
    assert.deepEqual(r.removed, []);

    // A later subscription is answered as soon as the first response is ACKed.
    s.ack('1').send({ subscribe: ['endpoints/sub-later'] });
    const r2 = await s.next();
    assert.equal(r2.nonce, '2');
    assert.deepEqual(r2.not_found, ['endpoints/sub-later']);

    // The service appears: the subscribed agent gets it.
    s.ack('2');
    const v2 = await register('sub-owner', [instance('sub-later', 'sl1')]);
    const r3 = await s.next();
    assert.deepEqual(
      r3.resources.map((x) => [x.name, x.version]),
      [['endpoints/sub-later', v2]],
    );
  } finally {
    s.close();
  }
});

test('a change reaches only the streams subscribed to the changed service', async () => {
  await register('only-owner', [instance('only-a', 'a1'), instance('only-b', 'b1')]);
  const sa = open('only-agent-a', { subscribe: ['endpoints/only-a'] });
  const sb = open('only-agent-b', { subscribe: ['endpoints/only-b'] });
  try {
    sa.ack((await sa.next()).nonce);
    sb.ack((await sb.next()).nonce);

    const va = await register('only-owner', [instance('only-a', 'a2')]);
    const ra = await sa.next();
    assert.deepEqual(
      ra.resources.map((x) => [x.name, x.version]),
      [['endpoints/only-a', va]],
    );
    // B's next response is about its own service, not A's change.
    const vb = await register('only-owner', [instance('only-b', 'b2')]);
    const rb = await sb.next();
    assert.deepEqual(
      rb.resources.map((x) => [x.name, x.version]),
      [['endpoints/only-b', vb]],
    );
    assert.equal(sa.pending + sb.pending, 0);
  } finally {
    sa.close();
    sb.close();
  }
});

test('keeps one response in flight and coalesces changes meanwhile (latest wins)', async () => {
  await register('co-owner', [instance('co', 'c0')]);
  const s = open('co-agent', { subscribe: ['endpoints/co'] });
  try {
    const first = await s.next();
    let last = '';
    for (let i = 1; i <= 5; i++) last = await register('co-owner', [instance('co', 'c0', { weight: i + 1 })]);
    assert.equal((await agentStatus('co-agent'))?.pending_nonce, first.nonce, 'nothing sent before the ACK');
    assert.equal(s.pending, 0);

    s.ack(first.nonce);
    const next = await s.next();
    assert.equal(next.nonce, '2');
    assert.deepEqual(
      next.resources.map((x) => [x.name, x.version]),
      [['endpoints/co', last]],
    );
    assert.equal(next.resources[0].endpoints!.endpoints[0].weight, 6);
    const status = await agentStatus('co-agent');
    assert.equal(status?.pending_nonce, '2', 'exactly one response after the ACK');
    assert.deepEqual(status?.resources[0], {
      name: 'endpoints/co',
      sent_version: last,
      acked_version: first.resources[0].version,
      rejected_version: '',
      error: '',
    });
    s.ack('2');
  } finally {
    s.close();
  }
});

test('records a NACK per resource and never resends the rejected version', async () => {
  const v1 = await register('nack-owner', [instance('nack-a', 'n1'), instance('nack-b', 'm1')]);
  const s = open('nack-agent', { subscribe: ['endpoints/nack-a', 'endpoints/nack-b'] });
  try {
    const r1 = await s.next();
    assert.equal(r1.resources.length, 2);
    s.ack(r1.nonce, [{ name: 'endpoints/nack-a', version: v1, message: 'bad endpoint' }]);

    // A stale nonce is ignored.
    s.ack('999');
    const status = await agentStatus('nack-agent');
    assert.deepEqual(
      status?.resources.map((r) => [r.name, r.acked_version, r.rejected_version, r.error]),
      [
        ['endpoints/nack-a', '', v1, 'bad endpoint'],
        ['endpoints/nack-b', v1, '', ''],
      ],
    );
    assert.equal(status?.pending_nonce, '');

    // Another change goes out without the rejected version of nack-a.
    const v2 = await register('nack-owner', [instance('nack-b', 'm2')]);
    const r2 = await s.next();
    assert.deepEqual(
      r2.resources.map((x) => [x.name, x.version]),
      [['endpoints/nack-b', v2]],
    );
    s.ack(r2.nonce);

    // A new version of nack-a is sent again, and its ACK clears the rejection.
    const v3 = await register('nack-owner', [instance('nack-a', 'n2')]);
    const r3 = await s.next();
    assert.deepEqual(
      r3.resources.map((x) => [x.name, x.version]),
      [['endpoints/nack-a', v3]],
    );
    s.ack(r3.nonce);
    await register('nack-owner', [instance('nack-c', 'x1')]); // a barrier: ListAgents after the ACK is processed
    const after = await agentStatus('nack-agent');
    assert.deepEqual(
      after?.resources.map((r) => [r.name, r.acked_version, r.rejected_version]),
      [
        ['endpoints/nack-a', v3, ''],
        ['endpoints/nack-b', v2, ''],
      ],
    );
  } finally {
    s.close();
  }
});

test('on reconnect with initial_versions sends only what differs, and removed for what is gone', async () => {
  await register('re-owner', [instance('re-same', 's1'), instance('re-changed', 'c1'), instance('re-gone', 'g1')]);
  const names = ['endpoints/re-same', 'endpoints/re-changed', 'endpoints/re-gone'];
  const s1 = open('re-agent', { subscribe: names });
  const r1 = await s1.next();
  s1.ack(r1.nonce);
  const held = Object.fromEntries(r1.resources.map((r) => [r.name, r.version]));
  s1.close();
  await s1.ended();

  const s2 = open('re-agent', { subscribe: names, initial_versions: held });
  try {
    const unchanged = await s2.next();
    assert.deepEqual(unchanged.resources, [], 'nothing unchanged is resent');
    assert.deepEqual(unchanged.removed, []);
    assert.deepEqual(unchanged.not_found, []);
    s2.ack(unchanged.nonce);
    // What the agent said it holds, and the server did not need to resend, counts as acknowledged in its status.
    const status = await agentStatus('re-agent');
    assert.deepEqual(
      status?.resources.map((r) => [r.name, r.sent_version, r.acked_version]),
      names.map((n) => [n, held[n], held[n]]).sort(),
    );
  } finally {
    s2.close();
    await s2.ended();
  }

  const changed = await register('re-owner', [instance('re-changed', 'c2')]);
  await h.call('Deregister', { agent_id: 're-owner', instance_ids: ['g1'] });
  const s3 = open('re-agent', { subscribe: names, initial_versions: held });
  try {
    const r3 = await s3.next();
    assert.deepEqual(
      r3.resources.map((x) => [x.name, x.version]),
      [['endpoints/re-changed', changed]],
    );
    assert.deepEqual(r3.removed, ['endpoints/re-gone']);
    assert.deepEqual(r3.not_found, []);
  } finally {
    s3.close();
  }
});

test('a service losing its last instance is sent in removed to agents that held it', async () => {
  await register('rm-owner', [instance('rm', 'r1')]);
  const s = open('rm-agent', { subscribe: ['endpoints/rm'] });
  try {
    s.ack((await s.next()).nonce);
    await h.call('Deregister', { agent_id: 'rm-owner', instance_ids: ['r1'] });
    const r = await s.next();
    assert.deepEqual(r.resources, []);
    assert.deepEqual(r.removed, ['endpoints/rm']);
    s.ack(r.nonce);
    // It comes back: sent again as a resource.
    const v = await register('rm-owner', [instance('rm', 'r2')]);
    const back = await s.next();
    assert.deepEqual(
      back.resources.map((x) => [x.name, x.version]),
      [['endpoints/rm', v]],
    );
  } finally {
    s.close();
  }
});

test('a newer stream of the same agent replaces the older one; the lease is held while it is open', async () => {
  const old = open('dup-agent');
  await old.next();
  const fresh = open('dup-agent');
  try {
    await fresh.next();
    const status = await old.ended();
    assert.equal(status.code, grpc.status.ABORTED);
    assert.equal((await agentStatus('dup-agent'))?.connected, true);
  } finally {
    fresh.close();
  }
  await fresh.ended();
  // Barrier so the server has processed the close.
  await register('dup-barrier', []);
  const after = await agentStatus('dup-agent');
  assert.equal(after?.connected, false);
  assert.ok(Number(after?.lease_expires_at_ms) > Date.now());
});

test('an agent that changes address on reconnect moves its endpoints for every subscriber', async () => {
  await register('mv-owner', [instance('mv', 'mv1')]);
  const watcher = open('mv-watcher', { subscribe: ['endpoints/mv'] });
  try {
    const r1 = await watcher.next();
    watcher.ack(r1.nonce);
    const owner = new TestStream(h.discovery).send({ agent: agentInfo('mv-owner', 16006, '10.9.9.9') });
    try {
      const r2 = await watcher.next();
      const ep = r2.resources[0].endpoints!.endpoints[0];
      assert.deepEqual([ep.agent_address, ep.agent_port], ['10.9.9.9', 16006]);
      assert.notEqual(r2.resources[0].version, r1.resources[0].version);
    } finally {
      owner.close();
    }
  } finally {
    watcher.close();
  }
});
