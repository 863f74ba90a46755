import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import type { ApplyConfigResponse__Output } from '@weft/shared/generated/weft/v1/ApplyConfigResponse';
import { agentInfo, type Harness, startHarness, TestStream } from '../test-support.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const external = (service: string, host: string, port = 443) => ({
  apiVersion: 'weft.dev/v1',
  kind: 'ExternalService',
  metadata: { service },
  host,
  port,
  tls: true,
});

function apply(...docs: object[]): Promise<ApplyConfigResponse__Output> {
  return h.call<ApplyConfigResponse__Output>('ApplyConfig', {
    documents: docs.map((d, i) => ({ source: `doc ${i + 1}`, json: JSON.stringify(d) })),
  });
}

test('external/<host> is answered not_found until declared, then pushed, updated and removed by host', async () => {
  const s = new TestStream(h.discovery).send({
    agent: agentInfo('ext-agent'),
    subscribe: ['external/api.example.com', 'external/Not_A_Host'],
  });
  try {
    const r1 = await s.next();
    assert.deepEqual(r1.not_found, ['external/Not_A_Host', 'external/api.example.com']);
    s.ack(r1.nonce);

    const applied = await apply(external('pay', 'api.example.com'));
    const r2 = await s.next();
    assert.deepEqual(
      r2.resources.map((x) => [x.name, x.version, x.external?.host]),
      [['external/api.example.com', applied.revision, 'api.example.com']],
    );
    assert.deepEqual(JSON.parse(r2.resources[0]?.external?.json ?? ''), external('pay', 'api.example.com'));
    s.ack(r2.nonce);

    // Moving the declaration to another host removes the old name and offers the new one to whoever subscribes.
    await apply(external('pay', 'api2.example.com'));
    const r3 = await s.next();
    assert.deepEqual(r3.removed, ['external/api.example.com']);
    s.ack(r3.nonce);
  } finally {
    s.close();
  }
});

test('one ExternalService per host: a second declaration of a host is refused naming both', async () => {
  await apply(external('first', 'dup.example.com'));
  await assert.rejects(apply(external('second', 'dup.example.com')), (err: grpc.ServiceError) => {
    assert.match(err.details, /ExternalService second: host: dup\.example\.com is already declared by ExternalService first/);
    return true;
  });
  // Swapping the names within one apply is fine: the check is on the state after it.
  await apply(external('first', 'swap.example.com'), external('second', 'dup.example.com'));
});

test('an ExternalService is not part of the policy/<service> bundle', async () => {
  await apply(external('bundled', 'bundled.example.com'));
  const s = new TestStream(h.discovery).send({ agent: agentInfo('ext-agent-2'), subscribe: ['policy/bundled'] });
  try {
    const r = await s.next();
    assert.deepEqual(r.not_found, ['policy/bundled']);
  } finally {
    s.close();
  }
});
