/**
 * The path policies match on: unreserved percent-encodings decoded, slashes
 * merged, dot segments removed; reserved encodings (%2F) and invalid
 * sequences kept; and the matcher and decide() use it while the forwarded
 * path stays the client's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '@weft/shared';
import { decodeUnreserved, normalizePath, removeDotSegments } from './path-normalize.js';
import { OutboundPolicy } from './policy-outbound.js';
import { PolicyView } from './policy-view.js';

describe('normalizePath', () => {
  it('turns every known way of spelling /admin into /admin', () => {
    for (const p of [
      '/admin',
      '/x/../admin',
      '/%61dmin',
      '//admin',
      '/./admin',
      '/%2e%2e/admin',
      '/a/b/../../admin',
      '/%2E/admin',
      '///admin',
    ])
      assert.equal(normalizePath(p), '/admin', p);
  });

  it('decodes only unreserved characters and uppercases the encodings it keeps', () => {
    assert.equal(decodeUnreserved('/%41%7a%30%2D%2e%5F%7E'), '/Az0-._~');
    assert.equal(decodeUnreserved('/a%2fb%3Fc%20d'), '/a%2Fb%3Fc%20d');
    assert.equal(normalizePath('/admin%2F..%2Fsecret'), '/admin%2F..%2Fsecret');
  });

  it('keeps invalid percent sequences as they are', () => {
    assert.equal(normalizePath('/a%zz/%4'), '/a%zz/%4');
    assert.equal(normalizePath('/%/%%61'), '/%/%a');
    assert.equal(normalizePath('/x%'), '/x%');
  });

  it('removes dot segments as RFC 3986 5.2.4 does, never above the root', () => {
    const cases: [string, string][] = [
      ['/a/b/c/./../../g', '/a/g'],
      ['/mid/content=5/../6', '/mid/6'],
      ['/..', '/'],
      ['/../../x', '/x'],
      ['/a/..', '/'],
      ['/a/.', '/a/'],
      ['/a/b/', '/a/b/'],
      ['/.hidden/..x/x..', '/.hidden/..x/x..'],
      ['/', '/'],
    ];
    for (const [input, expected] of cases) assert.equal(removeDotSegments(input), expected, input);
  });

  it('merges slashes before removing dot segments', () => {
    assert.equal(normalizePath('/a//../b'), '/b');
    assert.equal(normalizePath('/a/b//'), '/a/b/');
  });

  it('returns an already normal path unchanged (the same string)', () => {
    const p = '/orders/42/items';
    assert.equal(normalizePath(p), p);
  });
});

describe('path rules match on the normalised path', () => {
  const view = new PolicyView(createLogger({}, { level: 'error' }));
  const bundle = {
    service: 'orders',
    routes: {
      apiVersion: 'weft.dev/v1',
      kind: 'Routes',
      metadata: { service: 'orders' },
      rules: [
        { name: 'admin', match: { path: { prefix: '/admin' } }, directResponse: { status: 403, body: 'no' } },
        { name: 'exact', match: { path: { exact: '/health' } }, directResponse: { status: 200 } },
        { name: 'api', match: { path: { prefix: '/api/' } }, rewritePrefix: '/v2/', route: [{}] },
        { name: 'rest', route: [{}] },
      ],
    },
  };
  const errors = view.apply(
    [{ name: 'policy/orders', version: '1', body: 'policy', policy: { service: 'orders', json: JSON.stringify(bundle) } }],
    [],
    [],
  );
  assert.deepEqual(errors, []);
  const policy = new OutboundPolicy(view, () => 0);
  const decide = (path: string) => policy.decide('orders', 'GET', path, { headers: {} }, 'orders');

  it('refuses every spelling of /admin with the admin rule', () => {
    for (const p of ['/x/../admin', '/%61dmin', '//admin', '/./admin', '/%2e%2e/admin?x=1']) {
      const d = decide(p);
      assert.equal(d?.respond, true, p);
      assert.equal(d?.respond && d.ruleId, 'orders/0', p);
    }
    assert.equal(decide('/%2Fadmin')?.respond, false, 'an encoded slash is not a separator');
  });

  it('matches exact paths after normalisation and ignores the query string', () => {
    const d = decide('/x/..//health?verbose=1');
    assert.equal(d?.respond && d.ruleId, 'orders/1');
  });

  it('forwards the client path unchanged when no rewrite applies', () => {
    const d = decide('/other//./x?q=%61');
    assert.equal(d?.respond, false);
    assert.equal(!d?.respond && d?.path, '/other//./x?q=%61');
  });

  it('rewrites the matched prefix of the normalised path and keeps the query string', () => {
    const d = decide('/api/x/../%69tems?page=2');
    assert.equal(!d?.respond && d?.path, '/v2/items?page=2');
    const bare = decide('/api/a');
    assert.equal(!bare?.respond && bare?.path, '/v2/a');
    const emptyQuery = decide('/api/a?');
    assert.equal(!emptyQuery?.respond && emptyQuery?.path, '/v2/a?');
  });
});
