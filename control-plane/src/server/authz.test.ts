import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadWeftProto, PermissionDeniedError, UnauthenticatedError } from '@weft/shared';
import { authorize, METHOD_REQUIREMENTS } from './authz.js';

test('every method of every service has an access rule, and only Enrol needs none', () => {
  const proto = loadWeftProto();
  const methods = [
    ...Object.keys(proto.Registry.service).map((m) => `Registry.${m}`),
    ...Object.keys(proto.Discovery.service).map((m) => `Discovery.${m}`),
    ...Object.keys(proto.Trust.service).map((m) => `Trust.${m}`),
  ];
  assert.deepEqual(
    methods.filter((m) => METHOD_REQUIREMENTS[m] === undefined),
    [],
  );
  assert.deepEqual(
    Object.entries(METHOD_REQUIREMENTS)
      .filter(([, need]) => need === 'none')
      .map(([m]) => m),
    ['Trust.Enrol'],
  );
});

test('who may do what: anonymous, agents, read and operator tokens, revoked agents', () => {
  const notRevoked = () => false;
  const anon = { kind: 'anonymous', why: 'no client certificate and no token' } as const;
  const agent = { kind: 'agent', agentId: 'a', serial: '01' } as const;
  const read = { kind: 'read', tokenId: 't' } as const;
  const op = { kind: 'operator', tokenId: 't' } as const;
  assert.throws(() => authorize(anon, 'read', notRevoked), UnauthenticatedError);
  assert.doesNotThrow(() => authorize(anon, 'none', notRevoked));
  assert.doesNotThrow(() => authorize(agent, 'agent', notRevoked));
  assert.throws(() => authorize(agent, 'agent', (id) => id === 'a'), /agent "a" is revoked/);
  assert.throws(() => authorize(agent, 'operator', notRevoked), PermissionDeniedError);
  assert.throws(() => authorize(read, 'operator', notRevoked), /a read token cannot write/);
  assert.throws(() => authorize(read, 'agent', notRevoked), PermissionDeniedError);
  assert.doesNotThrow(() => authorize(read, 'read', notRevoked));
  assert.doesNotThrow(() => authorize(op, 'read', notRevoked));
  assert.doesNotThrow(() => authorize(op, 'operator', notRevoked));
});
