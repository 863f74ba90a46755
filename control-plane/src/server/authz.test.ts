import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadWeftProto, PermissionDeniedError, silentLogger, UnauthenticatedError } from '@weft/shared';
import { authorize, guardService, METHOD_REQUIREMENTS } from './authz.js';
import type { Caller } from './caller.js';

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

test('a caller identified later (a token looked up in the store) is authorized then, and refused as it would be at once', async () => {
  const ran: string[] = [];
  const statuses: unknown[] = [];
  const handlers = { ListServices: (_call: unknown, cb?: (err: unknown) => void) => ran.push(`ran ${typeof cb}`) };
  const guard = (caller: Promise<Caller>) =>
    guardService('Registry', handlers, {
      authn: { identify: () => caller },
      isRevoked: () => false,
      logger: silentLogger,
    });
  const call = () => ({ metadata: new grpc.Metadata(), getAuthContext: () => undefined });
  guard(Promise.resolve({ kind: 'read', tokenId: 't' })).ListServices(call(), (err) => statuses.push(err));
  guard(Promise.reject(new UnauthenticatedError('authorization: unknown token t'))).ListServices(call(), (err) => statuses.push(err));
  guard(Promise.resolve({ kind: 'agent', agentId: 'a', serial: '01' })).ListServices(call(), (err) => statuses.push(err));
  assert.deepEqual(ran, [], 'nothing runs before the caller is known');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(ran, ['ran function']);
  assert.deepEqual(
    statuses.map((s) => (s as { code: number }).code),
    [grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED],
  );
});
