import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LocalServiceSpec } from '@weft/shared';
import { defaultHealthCheck, RegistrationExistsError, registrationChanges } from './registration-changes.js';

const base: LocalServiceSpec = {
  name: 'orders',
  port: 8080,
  address: '127.0.0.1',
  weight: 1,
  tags: ['v1'],
  metadata: { team: 'a' },
  health: { kind: 'http', path: '/healthz', intervalMs: 5000, timeoutMs: 2000 },
  protocol: 'http',
};

describe('registration changes', () => {
  it('names every field a new registration of the same id changes, before and after', () => {
    const next: LocalServiceSpec = { ...base, tags: [], metadata: {}, health: defaultHealthCheck(), weight: 3 };
    assert.deepEqual(registrationChanges(base, next), [
      'weight: 1 -> 3',
      'tags: [v1] -> []',
      'metadata: {team=a} -> {}',
      'health: http /healthz every 5s, timeout 2s -> tcp every 5s, timeout 2s',
    ]);
  });

  it('finds nothing when the registration is the same', () => {
    assert.deepEqual(registrationChanges(base, { ...base, tags: ['v1'], metadata: { team: 'a' } }), []);
  });

  it('refuses with a message that lists the changes and how to replace', () => {
    const err = new RegistrationExistsError('orders-1', ['tags: [v1] -> []']);
    assert.equal(err.code, 'registration_exists');
    assert.match(err.message, /instance "orders-1" is already registered; registering it again would change tags: \[v1\] -> \[\]/);
    assert.match(err.message, /--replace/);
  });
});
