import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadWeftProto } from '@weft/shared';
import type { DiscoveryResponse } from '@weft/shared/generated/weft/v1/DiscoveryResponse';
import { cachingResponseSerializer } from './encoded-response.js';

test('a response built from cached resource bytes decodes like the plain encoding', () => {
  const def = loadWeftProto().Discovery.service.Stream;
  let encodes = 0;
  const base = (m: DiscoveryResponse) => {
    encodes++;
    return def.responseSerialize(m);
  };
  const serialize = cachingResponseSerializer(base);
  const endpoint = { instance_id: 'o1', agent_id: 'a', agent_address: '10.0.0.1', agent_port: 15006, address: '127.0.0.1', port: 8080 };
  const r1 = { name: 'endpoints/orders', version: '7', endpoints: { service: 'orders', endpoints: [endpoint] } };
  const r2 = { name: 'endpoints/users', version: '9', endpoints: { service: 'users', endpoints: [{ ...endpoint, instance_id: 'u1' }] } };
  const msg: DiscoveryResponse = {
    nonce: '3',
    revision: '9',
    resources: [r1, r2],
    removed: ['endpoints/gone'],
    not_found: ['endpoints/x'],
  };
  const cached = serialize(msg);
  assert.deepEqual(def.responseDeserialize(cached), def.responseDeserialize(def.responseSerialize(msg)));
  const before = encodes;
  serialize({ nonce: '4', revision: '9', resources: [r1, r2] });
  assert.equal(encodes - before, 1, 'only the head is encoded again');
  assert.deepEqual(
    def.responseDeserialize(serialize({ nonce: '5', revision: '9' })),
    def.responseDeserialize(def.responseSerialize({ nonce: '5', revision: '9' })),
  );
});
