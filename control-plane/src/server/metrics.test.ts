import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { agentInfo, type Harness, instance, startHarness, TestStream } from '../test-support.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

async function metrics(): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${h.cp.httpPort}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

test('/metrics reports agents, pushes, NACKs, resources, endpoints, revision, registrations and batches', async () => {
  await h.call('Register', {
    agent: agentInfo('m-owner'),
    instances: [instance('m-a', 'ma1'), instance('m-a', 'ma2'), instance('m-b', 'mb1')],
  });
  const s = new TestStream(h.discovery).send({ agent: agentInfo('m-agent'), subscribe: ['endpoints/m-a', 'endpoints/m-b'] });
  try {
    const first = await s.next();
    s.ack(first.nonce, [{ name: 'endpoints/m-b', version: first.resources[1].version, message: 'no thanks' }]);
    await h.call('SetHealth', { agent_id: 'm-owner', instance_id: 'ma1', health: 'HEALTH_CRITICAL' });
    const second = await s.next();
    s.ack(second.nonce);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const m = await metrics();
    assert.equal(m.get('weft_cp_connected_agents'), 1);
    assert.equal(m.get('weft_cp_services'), 2);
    assert.equal(m.get('weft_cp_endpoints'), 3);
    assert.equal(m.get('weft_cp_revision'), Number(second.revision));
    assert.equal(m.get('weft_cp_registrations_total'), 1);
    assert.equal(m.get('weft_cp_pushes_total'), 2);
    assert.equal(m.get('weft_cp_nacks_total'), 1);
    assert.equal(m.get('weft_cp_acks_total'), 1);
    assert.equal(m.get('weft_cp_ack_rtt_seconds_count'), 2);
    // Only the pushed change counts for push latency (the first answer was a subscription).
    assert.equal(m.get('weft_cp_push_latency_seconds_count'), 1);
    assert.ok((m.get('weft_cp_write_batch_size_count') ?? 0) >= 2);
    assert.ok((m.get('weft_cp_write_batch_size_sum') ?? 0) >= 2);
  } finally {
    s.close();
  }
});

test('/v1/agents keeps showing a rejected version after the agent reconnects', async () => {
  await h.call('Register', { agent: agentInfo('r-owner'), instances: [instance('r-a', 'ra1')] });
  const s1 = new TestStream(h.discovery).send({ agent: agentInfo('r-agent'), subscribe: ['endpoints/r-a'] });
  const first = await s1.next();
  const version = first.resources[0].version;
  s1.ack(first.nonce, [{ name: 'endpoints/r-a', version, message: 'bad config' }]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  s1.close();
  const s2 = new TestStream(h.discovery).send({ agent: agentInfo('r-agent'), subscribe: ['endpoints/r-a'] });
  try {
    const r = await s2.next();
    assert.deepEqual(r.resources, [], 'the rejected version is not resent on the new stream');
    const res = await fetch(`http://127.0.0.1:${h.cp.httpPort}/v1/agents`);
    const body = (await res.json()) as {
      agents: { agentId: string; resources: { name: string; rejectedVersion: string; error: string }[] }[];
    };
    const agent = body.agents.find((a) => a.agentId === 'r-agent');
    assert.deepEqual(
      agent?.resources.map((x) => [x.name, x.rejectedVersion, x.error]),
      [['endpoints/r-a', version, 'bad config']],
    );
  } finally {
    s2.close();
  }
});
