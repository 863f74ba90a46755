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

const get = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${h.cp.httpPort}${path}`, init);

test('GET /healthz answers with the revision', async () => {
  const res = await get('/healthz');
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok', revision: '0' });
});

test('GET /v1/services and /v1/agents show instances, leases and stream state', async () => {
  await h.call('Register', { agent: agentInfo('web-host'), instances: [instance('orders', 'o1')] });
  const stream = new TestStream(h.discovery);
  try {
    stream.send({ agent: agentInfo('web-host'), subscribe: ['endpoints/orders'] });
    const first = await stream.next();

    const services = (await (await get('/v1/services')).json()) as { services: { name: string; instances: { instanceId: string }[] }[] };
    assert.deepEqual(
      services.services.map((s) => [s.name, s.instances.map((i) => i.instanceId)]),
      [['orders', ['o1']]],
    );

    const agents = (await (await get('/v1/agents')).json()) as {
      agents: { agentId: string; connected: boolean; pendingNonce: string; resources: { name: string; sentVersion: string }[] }[];
    };
    const agent = agents.agents.find((a) => a.agentId === 'web-host')!;
    assert.equal(agent.connected, true);
    assert.equal(agent.pendingNonce, first.nonce);
    assert.deepEqual(agent.resources[0], {
      name: 'endpoints/orders',
      sentVersion: first.resources[0].version,
      ackedVersion: '',
      rejectedVersion: '',
      error: '',
    });
  } finally {
    stream.close();
  }
});

test('unknown paths and methods get JSON errors with x-weft-error, and the server keeps serving', async () => {
  const missing = await get('/nope?x=1');
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('x-weft-error'), 'not_found');
  const body = (await missing.json()) as { error: string; message: string };
  assert.equal(body.error, 'not_found');
  assert.match(body.message, /\/nope/);

  const post = await get('/v1/services', { method: 'POST', body: '{}' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('x-weft-error'), 'bad_request');
  await post.text();

  assert.equal((await get('/healthz')).status, 200);
});
