/**
 * The access decision with given identities: first match wins, sources by
 * name, SPIFFE ID, trust-domain wildcard and "*", method and path conditions
 * on the normalised path, shadow mode, the two mesh defaults, and that an
 * unauthenticated source never gets in. Explain gives the same answer with
 * the reason each earlier rule did not match.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AccessPolicyDocument,
  type DefaultAccess,
  MeshError,
  MeshErrorCode,
  type SourceIdentity,
  silentLogger,
  validatePolicyDocument,
} from '@weft/shared';
import type { ServiceSnapshot } from '../contracts.js';
import { compileAccess, decideAccess, explainAccess } from './policy-access.js';
import { AccessView } from './policy-access-view.js';
import { matchTarget } from './policy-match.js';
import { PolicyView } from './policy-view.js';

const TD = 'prod.example';
const svc = (name: string): SourceIdentity => ({ spiffeId: `spiffe://${TD}/svc/${name}`, service: name, authenticated: true });
const agent = (id: string): SourceIdentity => ({ spiffeId: `spiffe://${TD}/agent/${id}`, agentId: id, authenticated: true });
const UNAUTHENTICATED: SourceIdentity = { spiffeId: '', authenticated: false };

function compiled(rules: unknown[], mode?: string) {
  const doc = validatePolicyDocument({
    apiVersion: 'weft.dev/v1',
    kind: 'AccessPolicy',
    metadata: { service: 'orders' },
    ...(mode ? { mode } : {}),
    rules,
  }) as AccessPolicyDocument;
  return compileAccess(doc);
}

function decide(
  access: ReturnType<typeof compiled> | undefined,
  source: SourceIdentity | undefined,
  method: string,
  pathAndQuery: string,
  defaultAccess: DefaultAccess = 'all-authenticated',
) {
  return decideAccess(access, 'orders', defaultAccess, source, { method, path: matchTarget(pathAndQuery).path });
}

const policy = compiled([
  { name: 'no-admin', action: 'deny', from: ['*'], match: { path: { prefix: '/admin' } } },
  { name: 'web-reads', action: 'allow', from: ['web'], match: { methods: ['GET', 'HEAD'], path: { prefix: '/api/' } } },
  { action: 'allow', from: [`spiffe://${TD}/svc/batch`, `spiffe://${TD}/agent/*`] },
  { action: 'deny', from: ['web'] },
  { action: 'allow', from: ['spiffe://other.example/svc/*'], match: { path: { regex: '^/items/[0-9]+$' } } },
]);

describe('access decision', () => {
  it('takes the first matching rule, in order', () => {
    assert.deepEqual(
      [decide(policy, svc('web'), 'GET', '/admin/users'), decide(policy, svc('web'), 'GET', '/api/orders')].map((d) => [
        d.decision,
        d.ruleId,
      ]),
      [
        ['deny', 'orders/0'],
        ['allow', 'orders/1'],
      ],
    );
  });

  it('narrows by method: a POST by web falls through to the later deny', () => {
    const d = decide(policy, svc('web'), 'POST', '/api/orders');
    assert.equal(d.decision, 'deny');
    assert.equal(d.ruleId, 'orders/3');
    assert.match(d.reason, /spiffe:\/\/prod\.example\/svc\/web may not call service orders: rule orders\/3 denies it/);
  });

  it('matches paths after normalisation, as Routes do', () => {
    for (const p of ['/api/../admin', '/%61dmin', '//admin', '/./admin/x', '/api/%2e%2e/admin']) {
      assert.equal(decide(policy, svc('web'), 'GET', p).ruleId, 'orders/0', p);
    }
    // %2F is not a separator: /api%2Fx is not under /api/.
    assert.equal(decide(policy, svc('web'), 'GET', '/api%2Fx').ruleId, 'orders/3');
  });

  it('matches sources by exact SPIFFE ID and by trust-domain wildcard', () => {
    assert.equal(decide(policy, svc('batch'), 'DELETE', '/x').ruleId, 'orders/2');
    assert.equal(decide(policy, agent('host-1'), 'GET', '/x').ruleId, 'orders/2');
    const foreign: SourceIdentity = { spiffeId: 'spiffe://other.example/svc/web', service: 'web', authenticated: true };
    // A name source matches the service whatever the trust domain the certificate chain vouched for.
    assert.equal(decide(policy, foreign, 'GET', '/api/x').ruleId, 'orders/1');
    const other: SourceIdentity = { spiffeId: 'spiffe://other.example/svc/stock', service: 'stock', authenticated: true };
    assert.equal(decide(policy, other, 'GET', '/items/42').ruleId, 'orders/4');
    assert.equal(decide(policy, other, 'GET', '/items/42x').ruleId, 'orders/default');
  });

  it('uses the mesh default when no rule matches, or when the service has no AccessPolicy', () => {
    const stock = svc('stock');
    assert.deepEqual(
      [
        decide(policy, stock, 'GET', '/x', 'all-authenticated'),
        decide(policy, stock, 'GET', '/x', 'deny'),
        decide(undefined, stock, 'GET', '/x', 'all-authenticated'),
        decide(undefined, stock, 'GET', '/x', 'deny'),
      ].map((d) => [d.decision, d.ruleId]),
      [
        ['allow', 'orders/default'],
        ['deny', 'orders/default'],
        ['allow', 'orders/default'],
        ['deny', 'orders/default'],
      ],
    );
    assert.match(decide(policy, stock, 'GET', '/x', 'deny').reason, /no rule matched; mesh default deny/);
  });

  it('never lets an unauthenticated source in, not even through "*", an allow rule or shadow mode', () => {
    const open = compiled([{ action: 'allow', from: ['*'] }], 'shadow');
    for (const source of [undefined, UNAUTHENTICATED, { ...svc('web'), authenticated: false }]) {
      for (const p of [policy, open, undefined]) {
        const d = decide(p, source, 'GET', '/api/x');
        assert.equal(d.decision, 'deny');
        assert.equal(d.ruleId, 'orders/default');
        assert.match(d.reason, /an unauthenticated source may not call service orders: the mesh never lets an unauthenticated source in/);
      }
    }
  });

  it('reports a deny of a shadow-mode policy as shadow_deny, by rule and by default', () => {
    const shadow = compiled(
      [
        { action: 'deny', from: ['web'], match: { methods: ['DELETE'] } },
        { action: 'allow', from: ['web'] },
      ],
      'shadow',
    );
    assert.deepEqual(
      [
        decide(shadow, svc('web'), 'DELETE', '/x', 'deny'),
        decide(shadow, svc('web'), 'GET', '/x', 'deny'),
        decide(shadow, svc('batch'), 'GET', '/x', 'deny'),
      ].map((d) => [d.decision, d.ruleId]),
      [
        ['shadow_deny', 'orders/0'],
        ['allow', 'orders/1'],
        ['shadow_deny', 'orders/default'],
      ],
    );
  });

  it('explains the decision with the reason each earlier rule did not match', () => {
    const e = explainAccess(policy, 'orders', 'deny', svc('batch'), { method: 'GET', path: '/x' });
    assert.equal(e.decision, 'allow');
    assert.equal(e.matched?.id, 'orders/2');
    assert.deepEqual(
      e.skipped.map((s) => `${s.id}: ${s.reason}`),
      ['orders/0: path /x does not start with /admin', `orders/1: source spiffe://${TD}/svc/batch is not one of web`],
    );
    const none = explainAccess(policy, 'orders', 'deny', svc('stock'), { method: 'GET', path: '/x' });
    assert.equal(none.matched, null);
    assert.equal(none.skipped.length, 5);
    assert.equal(none.decision, 'deny');
    assert.equal(none.defaultAccess, 'deny');
  });
});

describe('access view', () => {
  const bundleResource = (service: string, access: unknown) => ({
    name: `policy/${service}`,
    version: '7',
    body: 'policy',
    policy: { service, json: JSON.stringify({ service, access }) },
  });

  it('decides with the policy and the mesh default it holds ("mesh/settings"), and NACKs an unknown default', () => {
    const policies = new PolicyView(silentLogger);
    const view = new AccessView(policies, { get: () => undefined, resolve: () => Promise.reject(new Error('unused')) });
    const doc = {
      apiVersion: 'weft.dev/v1',
      kind: 'AccessPolicy',
      metadata: { service: 'orders' },
      rules: [{ action: 'allow', from: ['web'] }],
    };
    assert.deepEqual(policies.apply([bundleResource('orders', doc)] as never, [], []), []);
    assert.equal(view.decide('orders', svc('stock'), 'GET', '/').decision, 'allow');
    const settings = (v: string, mode: string) => ({ name: 'mesh/settings', version: v, body: 'mesh', mesh: { default_access: mode } });
    assert.deepEqual(policies.apply([settings('a', 'deny')] as never, [], []), []);
    assert.equal(view.decide('orders', svc('stock'), 'GET', '/').decision, 'deny');
    assert.equal(view.decide('orders', svc('web'), 'GET', '/').decision, 'allow');
    const errors = policies.apply([settings('b', 'everyone')] as never, [], []);
    assert.equal(errors.length, 1);
    assert.match(errors[0].message ?? '', /mesh\.default_access: must be one of all-authenticated, deny/);
    assert.equal(policies.defaultAccess(), 'deny', 'the rejected version leaves the previous settings in force');
    assert.deepEqual(policies.versions(), { 'policy/orders': '7', 'mesh/settings': 'a' });
    assert.ok(
      policies.resources().some((r) => r.name === 'mesh/settings' && r.mesh?.default_access === 'deny'),
      'persisted with the snapshot',
    );
  });

  it('is ready at once for a service it holds, and otherwise waits for the subscription; unknown control plane = not ready', async () => {
    const policies = new PolicyView(silentLogger);
    const held: ServiceSnapshot = { service: 'orders', version: '1', endpoints: [] };
    let answer: (s: ServiceSnapshot) => void = () => {};
    const view = new AccessView(policies, {
      get: (s) => (s === 'orders' ? held : undefined),
      resolve: (s) => {
        if (s === 'new') return new Promise((resolve) => (answer = resolve));
        if (s === 'ghost') return Promise.reject(new MeshError(MeshErrorCode.unknownService, 'not registered'));
        return Promise.reject(new MeshError(MeshErrorCode.controlPlaneUnavailable, 'control plane not connected'));
      },
    });
    assert.equal(view.ready('orders'), undefined);
    const pending = view.ready('new');
    assert.ok(pending instanceof Promise);
    answer({ service: 'new', version: '1', endpoints: [] });
    assert.equal(await pending, undefined);
    assert.equal(await view.ready('ghost'), undefined, 'a service unknown to the control plane has no policy either');
    assert.equal(await view.ready('cut-off'), 'control plane not connected');
  });
});
