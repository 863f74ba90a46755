/**
 * What the policy validator refuses and how it says so: header edits of
 * framing, hop-by-hop and mesh headers; values with line breaks or NUL;
 * regexes RE2 cannot compile; and every problem of every document at once,
 * each with file, document, YAML line and field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../errors.js';
import { compilePolicyRegex, MAX_REGEX_INPUT } from './policy-regex.js';
import { DocumentError, validateSourcedDocuments } from './policy-source.js';
import { PolicyValidationError, validatePolicyDocument } from './policy-validate.js';
import { parsePolicyYaml } from './policy-yaml.js';

const routes = (rules: unknown[]) => ({ apiVersion: 'weft.dev/v1', kind: 'Routes', metadata: { service: 'orders' }, rules });

function problems(doc: unknown): string[] {
  try {
    validatePolicyDocument(doc);
  } catch (err) {
    assert.ok(err instanceof PolicyValidationError, String(err));
    return err.problems.map((p) => `${p.field}: ${p.problem}`);
  }
  assert.fail('expected the document to be refused');
}

const PROTECTED = [
  'content-length',
  'Transfer-Encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'host',
  'proxy-authorization',
  'Proxy-Connection',
  'x-weft-error',
  'x-weft-rule',
];

describe('header edits', () => {
  it('may not set or remove framing, hop-by-hop or x-weft-* headers, naming each field', () => {
    for (const name of PROTECTED) {
      const set = { [name]: 'v' };
      const got = problems(
        routes([
          { route: [{}] },
          { route: [{}] },
          { route: [{}], requestHeaders: { set, remove: [name] }, responseHeaders: { set, remove: [name] } },
          { directResponse: { status: 200, headers: set } },
        ]),
      );
      const lower = name.toLowerCase();
      assert.equal(got.length, 5, `${name}: ${got.join('\n')}`);
      assert.match(got[0], new RegExp(`^rules\\[2\\]\\.requestHeaders\\.set\\.${name}: .*may not be edited`));
      assert.match(got[1], /^rules\[2\]\.requestHeaders\.remove\[0\]: .*may not be edited/);
      assert.match(got[2], new RegExp(`^rules\\[2\\]\\.responseHeaders\\.set\\.${name}: `));
      assert.match(got[3], /^rules\[2\]\.responseHeaders\.remove\[0\]: /);
      assert.match(got[4], new RegExp(`^rules\\[3\\]\\.directResponse\\.headers\\.${name}: `));
      assert.ok(got.every((g) => g.includes(lower.startsWith('proxy-') ? 'proxy-*' : lower.startsWith('x-weft-') ? 'x-weft-*' : lower)));
    }
  });

  it('accepts ordinary headers', () => {
    const doc = validatePolicyDocument(
      routes([
        {
          route: [{}],
          requestHeaders: { set: { 'X-Team': 'a\tb' }, remove: ['cookie'] },
          responseHeaders: { set: { 'cache-control': 'no-store' } },
        },
      ]),
    );
    assert.equal(doc.kind, 'Routes');
  });

  it('refuses CR, LF, NUL and control characters in values and non-token names', () => {
    const got = problems(
      routes([
        {
          route: [{}],
          requestHeaders: { set: { 'x-a': 'a\r\nx-b: c', 'x-b': 'a\nb', 'x-c': 'a\0b', 'x-d': 'a\x07b', 'bad name': 'v', 'x:y': 'v' } },
        },
      ]),
    );
    const fields = [
      'rules[0].requestHeaders.set.x-a',
      'rules[0].requestHeaders.set.x-b',
      'rules[0].requestHeaders.set.x-c',
      'rules[0].requestHeaders.set.x-d',
      'rules[0].requestHeaders.set.bad name',
      'rules[0].requestHeaders.set.x:y',
    ];
    assert.equal(got.length, fields.length, got.join('\n'));
    fields.forEach((f, i) => {
      assert.ok(got[i].startsWith(`${f}: `), got[i]);
    });
    assert.match(got[0], /CR or LF/);
    assert.match(got[1], /CR or LF/);
    assert.match(got[2], /NUL/);
    assert.match(got[3], /control characters/);
    assert.match(got[4], /invalid header name "bad name" \(must be a token\)/);
  });
});

describe('regular expressions', () => {
  it('refuses what RE2 cannot compile, saying why', () => {
    const got = problems(
      routes([
        { match: { path: { regex: '^/(a)\\1$' } }, route: [{}] },
        { match: { headers: [{ name: 'x-a', regex: 'foo(?=bar)' }] }, route: [{}] },
        { match: { query: [{ name: 'q', regex: '(?<!x)y' }] }, route: [{}] },
      ]),
    );
    assert.equal(got.length, 3, got.join('\n'));
    assert.match(got[0], /^rules\[0\]\.match\.path\.regex: invalid regular expression \(RE2 syntax\): .*backreferences are not supported/);
    assert.match(got[1], /^rules\[1\]\.match\.headers\[0\]\.regex: .*lookahead and lookbehind are not supported/);
    assert.match(got[2], /^rules\[2\]\.match\.query\[0\]\.regex: .*lookahead and lookbehind are not supported/);
  });

  it('matches a catastrophic pattern in linear time and never matches beyond the input cap', () => {
    const re = compilePolicyRegex('^(a+)+$');
    const t0 = performance.now();
    assert.equal(re.test(`${'a'.repeat(MAX_REGEX_INPUT - 1)}b`), false);
    assert.equal(re.test('a'.repeat(MAX_REGEX_INPUT)), true);
    assert.ok(performance.now() - t0 < 1000, 'RE2 must not backtrack');
    assert.equal(re.test('a'.repeat(MAX_REGEX_INPUT + 1)), false);
    assert.equal(compilePolicyRegex('b').test('abc'), true, 'unanchored, as RegExp.test');
  });
});

describe('every problem at once', () => {
  const yaml = `apiVersion: weft.dev/v1
kind: Routes
metadata: { service: orders }
rules:
  - route: [{}]
    requestHeaders:
      set:
        Content-Length: "0"
  - match: { path: { regex: "(" } }
    route: [{ weight: -1 }]
    timeout: soon
---
apiVersion: weft.dev/v1
kind: ServicePolicy
metadata: { service: Bad_Name }
rateLimit: { requestsPerSecond: 0 }
colour: red
---
a: [
`;

  it('reports each with file, document, YAML line and field path', () => {
    let err: unknown;
    try {
      validateSourcedDocuments(parsePolicyYaml(yaml, 'mesh.yaml'));
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof DocumentError && err instanceof ValidationError);
    const lines = err.message.split('\n');
    const expected = [
      /^mesh\.yaml: doc 1: line 8: rules\[0\]\.requestHeaders\.set\.Content-Length: content-length is a framing/,
      /^mesh\.yaml: doc 1: line 9: rules\[1\]\.match\.path\.regex: invalid regular expression/,
      /^mesh\.yaml: doc 1: line 10: rules\[1\]\.route\[0\]\.weight: must be 0\.\.10000/,
      /^mesh\.yaml: doc 1: line 11: rules\[1\]\.timeout: invalid duration/,
      /^mesh\.yaml: doc 2: line 17: colour: unknown field/,
      /^mesh\.yaml: doc 2: line 15: metadata\.service: invalid service name/,
      /^mesh\.yaml: doc 2: line 16: rateLimit\.requestsPerSecond: must be a number > 0/,
      /^mesh\.yaml: doc 3: line \d+: invalid YAML/,
    ];
    assert.equal(lines.length, expected.length, err.message);
    expected.forEach((re, i) => {
      assert.match(lines[i], re);
    });
    assert.deepEqual(
      err.problems.map((p) => p.line),
      [8, 9, 10, 11, 17, 15, 16, err.problems[7].line],
    );
  });
});
