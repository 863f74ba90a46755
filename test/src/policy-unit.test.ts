/**
 * Unit tests of the traffic-policy validator (every error names file,
 * document and field) and of the agent's matcher, weighted pick, NACK on
 * receipt and rate limit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePolicy } from '@weft/agent/policy/policy-compile';
import { explainMatch, pickDestination, route } from '@weft/agent/policy/policy-match';
import { OutboundPolicy } from '@weft/agent/policy/policy-outbound';
import { PolicyView } from '@weft/agent/policy/policy-view';
import {
  createLogger,
  parsePolicyBundle,
  type RoutesDocument,
  ValidationError,
  validatePolicyDocument,
  validateSourcedDocuments,
} from '@weft/shared';
import { parsePolicyYaml, policyToYaml } from '@weft/shared/policy/policy-yaml';

const ROUTES = `apiVersion: weft.dev/v1
kind: Routes
metadata: { service: orders }
rules:
  - name: beta
    match:
      headers: [{ name: x-user, exact: "1" }]
    route: [{ tags: [version=v2] }]
  - match: { path: { prefix: /api/ }, methods: [GET] , query: [{ name: debug, present: true }] }
    directResponse: { status: 418, body: teapot }
  - match: { path: { regex: "^/items/[0-9]+$" } }
    route:
      - { tags: [version=v1], weight: 90 }
      - { tags: [version=v2], weight: 10 }
    timeout: 2s
`;

function routesDoc(): RoutesDocument {
  return validatePolicyDocument(parsePolicyYaml(ROUTES, 'routes.yaml')[0].raw) as RoutesDocument;
}

function errorOf(yaml: string): string {
  try {
    validateSourcedDocuments(parsePolicyYaml(yaml, 'routes.yaml'));
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    return err.message;
  }
  assert.fail('expected a validation error');
}

const head = 'apiVersion: weft.dev/v1\nkind: Routes\nmetadata: { service: orders }\n';

test('validation errors name file, document, line and field path', () => {
  const twoDocs = `${head}rules: []\n---\n${head}rules:\n  - route: [{}]\n  - match: { path: { regex: "(" } }\n    route: [{}]\n`;
  assert.match(errorOf(twoDocs), /^routes\.yaml: doc 2: line 11: rules\[1\]\.match\.path\.regex: invalid regular expression/);
  const cases: [string, RegExp][] = [
    [`${head}rules:\n  - route: [{}]\n    colour: red\n`, /doc 1: line \d+: rules\[0\]\.colour: unknown field/],
    [`${head}rules:\n  - match: {}\n`, /doc 1: line \d+: rules\[0\]: needs one of route, redirect, directResponse/],
    [`${head}rules:\n  - route: [{ weight: -1 }]\n`, /rules\[0\]\.route\[0\]\.weight: must be 0\.\.10000/],
    [`${head}rules:\n  - route: [{ weight: 0 }]\n`, /rules\[0\]\.route: weights must not all be 0/],
    [`${head}rules:\n  - route: [{}]\n    timeout: soon\n`, /rules\[0\]\.timeout: invalid duration/],
    [
      `${head}rules:\n  - route: [{}]\n    fault: { abort: { percent: 120, status: 503 } }\n`,
      /rules\[0\]\.fault\.abort\.percent: must be a number 0\.\.100/,
    ],
    [
      `${head}rules:\n  - match: { headers: [{ name: x-a, regex: "[" }] }\n    route: [{}]\n`,
      /rules\[0\]\.match\.headers\[0\]\.regex: invalid regular expression/,
    ],
    [`${head}rules:\n  - match: { path: { prefix: a } }\n    route: [{}]\n`, /rules\[0\]\.match\.path\.prefix: must start with "\/"/],
    [`${head}rules:\n  - route: [{ service: Bad_Name }]\n`, /rules\[0\]\.route\[0\]\.service: invalid service name/],
    ['apiVersion: weft.dev/v2\nkind: Routes\n', /doc 1: line \d+: apiVersion: must be "weft\.dev\/v1"/],
    ['apiVersion: weft.dev/v1\nkind: Nope\n', /doc 1: line \d+: kind: must be one of Routes, ServicePolicy/],
    [
      'apiVersion: weft.dev/v1\nkind: ServicePolicy\nmetadata: { service: orders }\nrateLimit: { requestsPerSecond: 0 }\n',
      /rateLimit\.requestsPerSecond: must be a number > 0/,
    ],
    [
      'apiVersion: weft.dev/v1\nkind: ServicePolicy\nmetadata: { service: orders }\nloadBalancer: { policy: random }\n',
      /loadBalancer\.policy: unknown policy "random"/,
    ],
    [
      `${head}rules: []\n---\n${head}rules: []\n`,
      /doc 2: line \d+: metadata\.service: a second Routes document for "orders" \(first in routes\.yaml: doc 1\)/,
    ],
    ['a: [\n', /routes\.yaml: doc 1: line \d+: invalid YAML/],
  ];
  for (const [yaml, expected] of cases) assert.match(errorOf(yaml), expected, yaml);
});

test('stored documents print back as YAML that validates to the same document', () => {
  const doc = routesDoc();
  const again = validatePolicyDocument(parsePolicyYaml(policyToYaml([doc]), 'x.yaml')[0].raw);
  assert.deepEqual(again, doc);
  assert.equal(JSON.stringify(again), JSON.stringify(doc));
});

test('first matching rule wins; explain says why earlier rules did not match', () => {
  const policy = compilePolicy({ service: 'orders', routes: routesDoc() }, '1');
  const req = (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const q = path.indexOf('?');
    return { method, path: q < 0 ? path : path.slice(0, q), query: q < 0 ? '' : path.slice(q + 1), headers };
  };
  assert.equal(route(policy, req('/items/7', { 'x-user': '1' }))?.id, 'orders/0');
  assert.equal(route(policy, req('/api/x?debug'))?.id, 'orders/1');
  assert.equal(route(policy, req('/api/x'))?.id, undefined);
  assert.equal(route(policy, req('/api/x?debug', {}, 'POST'))?.id, undefined);
  assert.equal(route(policy, req('/items/7'))?.id, 'orders/2');
  assert.equal(route(policy, req('/items/x')), undefined);
  const ex = explainMatch(policy, req('/items/7', { 'x-user': '2' }));
  assert.equal(ex.matched?.id, 'orders/2');
  assert.deepEqual(
    ex.skipped.map((s) => s.reason),
    ['header x-user is "2", not "1"', 'path /items/7 does not start with /api/'],
  );
  const split = policy.rules[2];
  assert.deepEqual(pickDestination(split, 0.89)?.tags, ['version=v1']);
  assert.deepEqual(pickDestination(split, 0.9)?.tags, ['version=v2']);
});

test('an agent rejects a bad policy with the field named and keeps the previous version', () => {
  const view = new PolicyView(createLogger({}, { level: 'error' }));
  const good = JSON.stringify({ service: 'orders', routes: routesDoc() });
  const res = (version: string, json: string) => ({
    name: 'policy/orders',
    version,
    body: 'policy' as const,
    policy: { service: 'orders', json },
  });
  assert.deepEqual(view.apply([res('1', good)], [], []), []);
  const bad = good.replace('^/items/[0-9]+$', '(');
  const errors = view.apply([res('2', bad)], [], []);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message ?? '', /^routes\.rules\[2\]\.match\.path\.regex: invalid regular expression/);
  assert.equal(view.get('orders')?.version, '1');
  assert.equal(view.rejection('orders')?.version, '2');
  assert.throws(() => parsePolicyBundle(good, 'payments'), /policy\.service/);
  view.apply([], ['policy/orders'], []);
  assert.equal(view.get('orders'), undefined);
});

test('the local rate limit answers 429 naming the limit and the rule', () => {
  const view = new PolicyView(createLogger({}, { level: 'error' }));
  const doc = {
    apiVersion: 'weft.dev/v1',
    kind: 'ServicePolicy',
    metadata: { service: 'orders' },
    rateLimit: { requestsPerSecond: 1, burst: 2 },
  };
  view.apply(
    [
      {
        name: 'policy/orders',
        version: '1',
        body: 'policy',
        policy: { service: 'orders', json: JSON.stringify({ service: 'orders', routes: routesDoc(), policy: doc }) },
      },
    ],
    [],
    [],
  );
  const p = new OutboundPolicy(view, () => 0.5);
  const decide = () => p.decide('orders', 'GET', '/items/1', { headers: {} }, 'orders');
  assert.equal(decide()?.respond, false);
  assert.equal(decide()?.respond, false);
  const third = decide();
  assert.ok(third?.respond);
  assert.equal(third.status, 429);
  assert.equal(third.headers['x-weft-error'], 'rate_limited; limit=orders; rule=orders/2');
  assert.equal(p.decide('payments', 'GET', '/', { headers: {} }, 'payments'), null);
});
