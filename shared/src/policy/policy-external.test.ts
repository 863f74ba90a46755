import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExternalResource, undeclaredHostHint, validateExternalHost } from './policy-external.js';
import { validatePolicyDocument } from './policy-validate.js';
import { PolicyValidationError } from './policy-validate-fields.js';

const base = {
  apiVersion: 'weft.dev/v1',
  kind: 'ExternalService',
  metadata: { service: 'pay' },
  host: 'api.example.com',
  port: 443,
  tls: true,
};

describe('ExternalService documents', () => {
  it('accepts a valid document unchanged', () => {
    assert.deepEqual(validatePolicyDocument(base), base);
    assert.deepEqual(validatePolicyDocument({ ...base, host: '10.0.0.7', port: 80, tls: false }), {
      ...base,
      host: '10.0.0.7',
      port: 80,
      tls: false,
    });
  });

  it('reports every problem at once, each naming its field', () => {
    try {
      validatePolicyDocument({ ...base, metadata: { service: 'Pay' }, host: 'https://x', port: 0, tls: 'yes', extra: 1 });
      assert.fail('expected a validation error');
    } catch (err) {
      assert.ok(err instanceof PolicyValidationError);
      assert.deepEqual(
        err.problems.map((p) => p.field),
        ['extra', 'metadata.service', 'host', 'port', 'tls'],
      );
    }
  });

  it('takes only bare lowercase host names and IPv4 addresses', () => {
    for (const ok of ['api.example.com', 'localhost', 'a-b.c', '127.0.0.1']) assert.equal(validateExternalHost(ok, 'host'), ok);
    for (const bad of ['', 'API.example.com', 'x:443', 'a/b', 'a..b', '-a.com', '[::1]', 'a b'])
      assert.throws(() => validateExternalHost(bad, 'host'), bad);
  });

  it('parses the resource an agent receives, checking the host against the name', () => {
    assert.equal(parseExternalResource(JSON.stringify(base), 'api.example.com').port, 443);
    assert.throws(() => parseExternalResource(JSON.stringify(base), 'other.example.com'), /does not match/);
    assert.throws(() => parseExternalResource('{', 'api.example.com'), /invalid JSON/);
  });

  it('hints at a declaration with a name, the port and tls, and at NO_PROXY', () => {
    const hint = undeclaredHostHint('api.stripe.com', undefined, true);
    assert.match(hint, /service: stripe\n {2}host: api\.stripe\.com\n {2}port: 443\n {2}tls: true/);
    assert.match(hint, /NO_PROXY/);
    assert.match(undeclaredHostHint('10.0.0.7', 8080, false), /service: external\n {2}host: 10\.0\.0\.7\n {2}port: 8080\n {2}tls: false/);
  });
});
