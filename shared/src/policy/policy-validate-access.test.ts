/**
 * AccessPolicy documents through the one validator: what is accepted (and
 * stored as written), what is refused, every problem of a file at once with
 * its YAML line and field path, and the bundle the agent receives.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identityFromSpiffeId, parseSpiffePattern } from '../identity/source-identity.js';
import { DocumentError, validateSourcedDocuments } from './policy-source.js';
import { PolicyValidationError, parsePolicyBundle, validatePolicyDocument } from './policy-validate.js';
import { parsePolicyYaml, policyToYaml } from './policy-yaml.js';

const access = (rules: unknown[], extra: Record<string, unknown> = {}) => ({
  apiVersion: 'weft.dev/v1',
  kind: 'AccessPolicy',
  metadata: { service: 'orders' },
  ...extra,
  rules,
});

function problems(doc: unknown): string[] {
  try {
    validatePolicyDocument(doc);
  } catch (err) {
    assert.ok(err instanceof PolicyValidationError, String(err));
    return err.problems.map((p) => `${p.field}: ${p.problem}`);
  }
  assert.fail('expected the document to be refused');
}

describe('AccessPolicy documents', () => {
  it('accepts names, SPIFFE IDs, "*" and trust-domain wildcards, with method and path conditions, and keeps them as written', () => {
    const doc = access(
      [
        {
          name: 'reads',
          action: 'allow',
          from: ['web', 'spiffe://prod.example/svc/batch'],
          match: { methods: ['get', 'HEAD'], path: { prefix: '/api/' } },
        },
        { action: 'deny', from: ['*'], match: { path: { regex: '^/admin(/|$)' } } },
        { action: 'allow', from: ['spiffe://prod.example/agent/host-1', 'spiffe://prod.example/svc/*'] },
      ],
      { mode: 'shadow' },
    );
    const v = validatePolicyDocument(doc);
    assert.equal(v.kind, 'AccessPolicy');
    assert.equal(v.kind === 'AccessPolicy' && v.mode, 'shadow');
    assert.deepEqual(v.kind === 'AccessPolicy' && v.rules[0].match?.methods, ['GET', 'HEAD']);
    // Prints back as YAML that validates to the same document.
    const again = validateSourcedDocuments(parsePolicyYaml(policyToYaml([v]), 'x.yaml'));
    assert.deepEqual(again[0].doc, v);
  });

  it('refuses unknown actions and modes, missing or empty from, bad sources, and header or query conditions', () => {
    const got = problems(
      access(
        [
          { action: 'permit', from: ['web'] },
          { action: 'allow' },
          { action: 'deny', from: [] },
          { action: 'allow', from: ['Web', 'spiffe://prod/svc/', 'spiffe://prod/team/x', 'web-*', 'spiffe://PROD/svc/web'] },
          { action: 'allow', from: ['*'], match: { headers: [{ name: 'x-user', exact: '1' }], path: { prefix: 'admin' } } },
          { name: 'Bad Name', action: 'allow', from: ['*'], match: { methods: ['FETCH'] } },
        ],
        { mode: 'audit' },
      ),
    );
    assert.deepEqual(got, [
      'mode: must be one of enforce, shadow, got "audit"',
      'rules[0].action: must be one of allow, deny, got "permit"',
      'rules[1].from: is required: the sources the rule applies to ("*" = any mesh identity)',
      'rules[2].from: needs at least one source ("*" = any mesh identity)',
      `rules[3].from[0]: invalid service name "Web": use lowercase letters, digits and '-', starting and ending with a letter or digit`,
      'rules[3].from[1]: is required',
      'rules[3].from[2]: invalid SPIFFE ID "spiffe://prod/team/x": expected spiffe://<trust-domain>/svc/<name> or /agent/<id>',
      'rules[3].from[3]: "*" stands alone ("*") or ends a SPIFFE ID (spiffe://<td>/svc/*), got "web-*"',
      `rules[3].from[4]: invalid trust domain "PROD": use lowercase letters, digits, '.', '-' and '_'`,
      'rules[4].match.headers: unknown field (expected one of: path, methods)',
      'rules[4].match.path.prefix: must start with "/"',
      'rules[5].name: use lowercase letters, digits and "-"',
      'rules[5].match.methods[0]: unknown method "FETCH"',
    ]);
  });

  it('reports every problem of a file at once with its YAML line, next to the other kinds', () => {
    const yaml = `apiVersion: weft.dev/v1
kind: Routes
metadata: { service: orders }
rules:
  - route: [{ weight: -1 }]
---
apiVersion: weft.dev/v1
kind: AccessPolicy
metadata:
  service: orders
mode: enforce
rules:
  - action: allow
    from: [web, "spiffe://prod/svc/Web"]
  - action: maybe
    from: ["*"]
    match:
      path: { regex: "(a" }
`;
    let err: unknown;
    try {
      validateSourcedDocuments(parsePolicyYaml(yaml, 'mesh.yaml'));
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof DocumentError, String(err));
    const lines = err.message.split('\n');
    assert.equal(lines.length, 4, err.message);
    assert.match(lines[0], /^mesh\.yaml: doc 1: line 5: rules\[0\]\.route\[0\]\.weight: must be 0\.\.10000/);
    assert.match(lines[1], /^mesh\.yaml: doc 2: line 14: rules\[0\]\.from\[1\]: invalid service name "Web"/);
    assert.match(lines[2], /^mesh\.yaml: doc 2: line 15: rules\[1\]\.action: must be one of allow, deny/);
    assert.match(lines[3], /^mesh\.yaml: doc 2: line 18: rules\[1\]\.match\.path\.regex: invalid regular expression \(RE2 syntax\)/);
  });

  it('refuses two AccessPolicy documents for one service in one apply', () => {
    const docs = [access([{ action: 'allow', from: ['*'] }]), access([{ action: 'deny', from: ['*'] }])].map((raw, i) => ({
      source: `a.yaml: doc ${i + 1}`,
      raw,
    }));
    assert.throws(() => validateSourcedDocuments(docs), /a\.yaml: doc 2: metadata\.service: a second AccessPolicy document for "orders"/);
  });

  it('is carried in the policy bundle the agent receives, and checked again there', () => {
    const doc = validatePolicyDocument(access([{ action: 'allow', from: ['web'] }]));
    const bundle = parsePolicyBundle(JSON.stringify({ service: 'orders', access: doc }), 'orders');
    assert.deepEqual(bundle.access, doc);
    assert.throws(
      () =>
        parsePolicyBundle(JSON.stringify({ service: 'orders', access: { ...doc, rules: [{ action: 'allow', from: ['WEB'] }] } }), 'orders'),
      /access\.rules\[0\]\.from\[0\]: invalid service name/,
    );
  });
});

describe('SPIFFE IDs', () => {
  it('parses service and agent IDs and builds identities from them', () => {
    assert.deepEqual(parseSpiffePattern('spiffe://prod.example/svc/orders', 'x'), {
      trustDomain: 'prod.example',
      kind: 'svc',
      name: 'orders',
    });
    assert.deepEqual(identityFromSpiffeId('spiffe://td/agent/host-1'), {
      spiffeId: 'spiffe://td/agent/host-1',
      agentId: 'host-1',
      authenticated: true,
    });
    assert.throws(() => parseSpiffePattern('spiffe://td/svc/*', 'x'), /invalid service name/);
    assert.equal(parseSpiffePattern('spiffe://td/svc/*', 'x', true).name, '*');
    assert.throws(() => parseSpiffePattern('https://td/svc/web', 'x'), /invalid SPIFFE ID/);
  });
});
