/**
 * End to end, real processes: a policy cannot break the proxy. `weft apply`
 * and the control plane refuse a bad file with every problem listed; a
 * catastrophic regex does not stall the agent; path rules see the normalised
 * path whichever way the client spells it, and the upstream still gets the
 * client's path.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectConfig } from '@weft/cli/commands/apply';
import { parseAllDocuments } from 'yaml';
import { type AgentProc, type ControlPlaneProc, echoHandler, Mesh, registerWith, runWeft, send, viaProxy, waitFor } from './harness.js';

const weft = runWeft;

const ROUTES = `apiVersion: weft.dev/v1
kind: Routes
metadata: { service: orders }
rules:
  - name: all-a
    match: { path: { regex: "^/(a+)+$" } }
    directResponse: { status: 200, body: all a }
  - name: admin
    match: { path: { prefix: /admin } }
    directResponse: { status: 403, body: admin is internal }
  - name: api
    match: { path: { prefix: /api/ } }
    rewritePrefix: /v2/
    route: [{}]
  - name: rest
    route: [{}]
`;

const BAD = `apiVersion: weft.dev/v1
kind: Routes
metadata: { service: orders }
rules:
  - route: [{}]
    requestHeaders:
      set: { content-length: "5", x-ok: "fine" }
      remove: [x-weft-error]
  - match: { path: { regex: "^/(a)\\\\1" } }
    route: [{}]
    responseHeaders:
      set: { x-note: "a\\r\\nb" }
---
apiVersion: weft.dev/v1
kind: ServicePolicy
metadata: { service: orders }
rateLimit: { requestsPerSecond: -1 }
`;

let mesh: Mesh;
let cp: ControlPlaneProc;
let agent: AgentProc;
let cpAddr: string;

before(async () => {
  mesh = new Mesh();
  cp = await mesh.controlPlane();
  cpAddr = `127.0.0.1:${cp.grpcPort}`;
  agent = await mesh.agent('a', cp.grpcPort);
  const svc = await mesh.service(echoHandler('orders-1'));
  await registerWith(agent, { name: 'orders', port: svc.port, id: 'orders-1' });
  await waitFor('orders reachable', async () => (await viaProxy(agent.outboundPort, 'http://orders/')).status === 200);
});

after(async () => {
  await mesh?.close();
});

const EXPECTED_PROBLEMS = [
  /^ {2}bad\.yaml: doc 1: line 7: rules\[0\]\.requestHeaders\.set\.content-length: content-length is a framing or hop-by-hop header/,
  /^ {2}bad\.yaml: doc 1: line 8: rules\[0\]\.requestHeaders\.remove\[0\]: x-weft-\* headers belong to the mesh/,
  /^ {2}bad\.yaml: doc 1: line 9: rules\[1\]\.match\.path\.regex: invalid regular expression \(RE2 syntax\): .*backreferences/,
  /^ {2}bad\.yaml: doc 1: line 12: rules\[1\]\.responseHeaders\.set\.x-note: must not contain CR or LF/,
  /^ {2}bad\.yaml: doc 2: line 17: rateLimit\.requestsPerSecond: must be a number > 0/,
];

test('weft apply refuses a file listing every problem with file, document, line and field, and stores nothing', async () => {
  const bad = join(mesh.dir, 'bad.yaml');
  writeFileSync(bad, BAD);
  const r = await weft(['apply', '-f', bad, '--control-plane', cpAddr]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines[0], 'weft: 5 problems; nothing applied', r.stderr);
  assert.equal(lines.length, 1 + EXPECTED_PROBLEMS.length, r.stderr);
  EXPECTED_PROBLEMS.forEach((re, i) => {
    assert.match(lines[i + 1], re);
  });
  const get = await weft(['get', 'all', '--control-plane', cpAddr]);
  assert.match(get.stderr, /nothing stored/);
});

test('the control plane refuses the same documents from any client, every problem listed', async () => {
  const client = connectConfig(cpAddr);
  try {
    // As a client without the CLI's local validation would send them: JSON, no YAML lines.
    const docs = parseAllDocuments(BAD).map((d, i) => ({ source: `api: doc ${i + 1}`, json: JSON.stringify(d.toJS()) }));
    await assert.rejects(client.apply(docs, false), (err: Error) => {
      const lines = err.message.split('\n');
      assert.equal(lines.length, 5, err.message);
      assert.match(lines[0], /^api: doc 1: rules\[0\]\.requestHeaders\.set\.content-length: /);
      assert.match(lines[2], /^api: doc 1: rules\[1\]\.match\.path\.regex: invalid regular expression \(RE2 syntax\)/);
      assert.match(lines[4], /^api: doc 2: rateLimit\.requestsPerSecond: /);
      return true;
    });
  } finally {
    client.close();
  }
});

test('a catastrophic regex does not stall the agent: other requests are answered while it is matched', async () => {
  const file = join(mesh.dir, 'routes.yaml');
  writeFileSync(file, ROUTES);
  const r = await weft(['apply', '-f', file, '--wait', '--control-plane', cpAddr]);
  assert.equal(r.code, 0, r.stdout + r.stderr);

  // `^/(a+)+$` against "aaaa…b" takes a backtracking engine exponential time; RE2 is linear.
  const evil = `/${'a'.repeat(4000)}b`;
  const started = Date.now();
  const evils = Array.from({ length: 4 }, () => viaProxy(agent.outboundPort, `http://orders${evil}`, { timeoutMs: 10_000 }));
  const other = await viaProxy(agent.outboundPort, 'http://orders/items', { timeoutMs: 2_000 });
  const otherMs = Date.now() - started;
  assert.equal(other.status, 200);
  assert.ok(otherMs < 2_000, `another request took ${otherMs} ms`);
  for (const e of await Promise.all(evils)) {
    assert.equal(e.status, 200);
    assert.equal(e.headers['x-served-by'], 'orders-1', 'no match: the request fell through to the catch-all rule');
  }

  const allA = await viaProxy(agent.outboundPort, `http://orders/${'a'.repeat(4000)}`);
  assert.equal(allA.body.toString(), 'all a');
  // Beyond the documented input cap (8 KiB) a regex condition does not match.
  const long = await viaProxy(agent.outboundPort, `http://orders/${'a'.repeat(9000)}`);
  assert.equal(long.headers['x-served-by'], 'orders-1');
});

test('path rules match the normalised path for origin-form and absolute-form targets; upstream gets the client path', async () => {
  for (const p of ['/admin', '/x/../admin', '/%61dmin', '//admin', '/./admin', '/%2e%2e/admin']) {
    const origin = await send({ port: agent.outboundPort, path: p, headers: { host: 'orders' } });
    assert.equal(origin.status, 403, `origin-form ${p}`);
    assert.equal(origin.headers['x-weft-rule'], 'orders/admin', `origin-form ${p}`);
    const absolute = await viaProxy(agent.outboundPort, `http://orders${p}`);
    assert.equal(absolute.status, 403, `absolute-form ${p}`);
  }
  const encodedSlash = await send({ port: agent.outboundPort, path: '/%2Fadmin', headers: { host: 'orders' } });
  assert.equal(encodedSlash.headers['x-served-by'], 'orders-1', '%2F is not a separator');

  const kept = await send({ port: agent.outboundPort, path: '/items//./%7Ex?q=%61', headers: { host: 'orders' } });
  assert.equal(JSON.parse(kept.body.toString()).url, '/items//./%7Ex?q=%61');
  const rewritten = await send({ port: agent.outboundPort, path: '/api/x/../%69tems?page=2', headers: { host: 'orders' } });
  assert.equal(JSON.parse(rewritten.body.toString()).url, '/v2/items?page=2');
});
