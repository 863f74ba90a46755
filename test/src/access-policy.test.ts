/**
 * Access policy end to end: a real control plane process started with
 * `--default-access deny`, `weft apply` / get / history / rollback / explain
 * as an operator runs them, and two real agents (started in this process,
 * because the source identity comes from a TEST-ONLY constructor hook:
 * `access.testIdentify` reads the x-test-source header the app sends, standing
 * in for service identities no certificate carries yet (the mTLS hop
 * identifies the calling agent only); no flag, environment variable or header
 * enables that in a `weft agent`). Agent b hosts orders and decides for requests arriving over
 * the mesh hop; agent a hosts stock and decides for its own apps' calls to it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Agent, startAgent } from '@weft/agent';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { type SourceIdentity, silentLogger } from '@weft/shared';
import { type ControlPlaneProc, echoHandler, getJson, Mesh, postJson, send, viaProxy, waitFor } from './harness.js';

function weft(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WEFT_BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** TEST ONLY: a service identity (not yet in any certificate), here from a header the test's apps send. */
const TEST_SOURCE = 'x-test-source';
function testIdentify(req: { header(name: string): string | undefined }): SourceIdentity | undefined {
  const name = req.header(TEST_SOURCE);
  return name ? { spiffeId: `spiffe://e2e.test/svc/${name}`, service: name, authenticated: true } : undefined;
}

const ACCESS = `apiVersion: weft.dev/v1
kind: AccessPolicy
metadata:
  service: orders
rules:
  - name: web-reads
    action: allow
    from: [web]
    match:
      methods: [GET]
      path: { prefix: /api/ }
  - name: no-admin
    action: deny
    from: ["*"]
    match:
      path: { prefix: /admin }
  - action: allow
    from: [web, "spiffe://e2e.test/svc/batch"]
---
apiVersion: weft.dev/v1
kind: AccessPolicy
metadata:
  service: stock
mode: enforce
rules:
  - action: deny
    from: [web]
`;

let mesh: Mesh;
let cp: ControlPlaneProc;
let cpAddr: string;
let a: Agent;
let b: Agent;
let ordersHits = () => 0;
let stockHits = () => 0;

async function inProcessAgent(name: string): Promise<Agent> {
  return startAgent({
    controlPlane: { host: '127.0.0.1', port: cp.grpcPort },
    dataDir: join(mesh.dir, name),
    agentId: name,
    advertiseAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    requestTimeoutMs: 5_000,
    subscribeWaitMs: 3_000,
    logger: silentLogger,
    joinToken: await mesh.createToken(cp.grpcPort, { agentId: name }),
    access: { enforce: true, testIdentify },
  });
}

/** A GET to an inbound listener over mTLS with an agent's certificate (what a peer agent sends). */
function meshRequest(
  port: number,
  identity: { key: string; cert: string; ca: string },
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path, headers, ...identity, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const call = (path: string, source?: string, method = 'GET') =>
  viaProxy(a.outboundPort, path, { method, headers: source ? { [TEST_SOURCE]: source } : {} });

before(async () => {
  mesh = new Mesh();
  cp = await mesh.controlPlane({ extra: ['--default-access', 'deny'] });
  cpAddr = `127.0.0.1:${cp.grpcPort}`;
  a = await inProcessAgent('a');
  b = await inProcessAgent('b');
  const orders = await mesh.service(echoHandler('orders-1'));
  const stock = await mesh.service(echoHandler('stock-1'));
  ordersHits = () => orders.hits;
  stockHits = () => stock.hits;
  for (const [agent, body] of [
    [b, { name: 'orders', port: orders.port, id: 'orders-1' }],
    [a, { name: 'stock', port: stock.port, id: 'stock-1' }],
  ] as const) {
    const r = await postJson(agent.adminPort, '/v1/services', body);
    assert.equal(r.status, 201, JSON.stringify(r.json));
  }
  // Without any AccessPolicy the mesh default (deny, from the control plane's flag) decides.
  await waitFor('orders registered and refused by the default', async () => {
    const r = await call('http://orders/api/x', 'web');
    return r.status === 403 && r.headers['x-weft-error'] === 'forbidden; policy=orders/default';
  });
});

after(async () => {
  await a?.close();
  await b?.close();
  await mesh?.close();
});

test('weft apply validates AccessPolicy with every problem at once, shows the diff on --dry-run, and --wait follows the agents', async () => {
  const bad = join(mesh.dir, 'bad-access.yaml');
  writeFileSync(
    bad,
    'apiVersion: weft.dev/v1\nkind: AccessPolicy\nmetadata: { service: orders }\nmode: audit\nrules:\n  - action: permit\n    from: [Web]\n',
  );
  const refused = await weft(['apply', '-f', bad, '--control-plane', cpAddr]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /3 problems; nothing applied/);
  assert.match(refused.stderr, /bad-access\.yaml: doc 1: line 4: mode: must be one of enforce, shadow/);
  assert.match(refused.stderr, /bad-access\.yaml: doc 1: line 6: rules\[0\]\.action: must be one of allow, deny/);
  assert.match(refused.stderr, /bad-access\.yaml: doc 1: line 7: rules\[0\]\.from\[0\]: invalid service name "Web"/);

  const file = join(mesh.dir, 'access.yaml');
  writeFileSync(file, ACCESS);
  const dry = await weft(['apply', '-f', file, '--dry-run', '--control-plane', cpAddr]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /AccessPolicy orders: create \(dry run\)/);
  assert.match(dry.stdout, /\+ {5}- name: web-reads|\+ {3}- name: web-reads/);
  assert.match(dry.stdout, /dry run: nothing applied/);

  const applied = await weft(['apply', '-f', file, '--wait', '--control-plane', cpAddr]);
  assert.equal(applied.code, 0, applied.stdout + applied.stderr);
  assert.match(applied.stdout, /agents: [12] ACKed, 0 NACKed, 0 pending/);
  const got = await weft(['get', 'access', 'orders', '--control-plane', cpAddr]);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, /kind: AccessPolicy/);
  assert.match(got.stdout, /name: web-reads/);
});

test('the destination agent decides over the mesh hop: allow, deny by rule, the default, unauthenticated', async () => {
  const before = ordersHits();
  const ok = await call('http://orders/api/items', 'web');
  assert.equal(ok.status, 200, ok.body.toString());
  assert.equal(ordersHits(), before + 1);

  const admin = await call('http://orders/api/../admin/users', 'web');
  assert.equal(admin.status, 403);
  assert.equal(admin.headers['x-weft-error'], 'forbidden; policy=orders/1');
  assert.match(admin.body.toString(), /spiffe:\/\/e2e\.test\/svc\/web may not call service orders: rule orders\/1 \(no-admin\) denies it/);

  assert.equal((await call('http://orders/other', 'batch', 'POST')).status, 200);
  const stranger = await call('http://orders/api/items', 'reports');
  assert.equal(stranger.status, 403);
  assert.equal(stranger.headers['x-weft-error'], 'forbidden; policy=orders/default');
  assert.match(stranger.body.toString(), /no rule matched; mesh default deny/);

  const anonymous = await call('http://orders/api/items');
  assert.equal(anonymous.status, 403);
  assert.match(anonymous.body.toString(), /an unauthenticated source may not call service orders/);
  assert.equal(ordersHits(), before + 2, 'no refused request reached the app');

  // The caller cannot skip the check by calling the destination agent's inbound listener itself: without a mesh
  // certificate it gets no TLS session at all, and with agent a's certificate the destination still decides.
  await assert.rejects(
    send({ port: b.inboundPort, path: '/admin', headers: { host: 'orders', 'x-weft-instance': 'orders-1', [TEST_SOURCE]: 'web' } }),
  );
  const direct = await meshRequest(b.inboundPort, mesh.meshTls('a'), '/admin', {
    host: 'orders',
    'x-weft-instance': 'orders-1',
    [TEST_SOURCE]: 'web',
  });
  assert.equal(direct.status, 403);
  assert.equal(direct.headers['x-weft-error'], 'forbidden; policy=orders/1');

  const metrics = (await send({ port: b.adminPort, path: '/metrics' })).body.toString();
  assert.match(metrics, /weft_access_decisions_total\{service="orders",decision="allow",rule="orders\/0"\} 1/);
  assert.match(metrics, /weft_access_decisions_total\{service="orders",decision="deny",rule="orders\/1"\} 2/);
  assert.match(metrics, /weft_access_decisions_total\{service="orders",decision="deny",rule="orders\/default"\} \d/);
});

test('the calling agent decides for an instance on its own host, and shadow mode lets requests through but counts them', async () => {
  const before = stockHits();
  const denied = await call('http://stock/', 'web');
  assert.equal(denied.status, 403);
  assert.equal(denied.headers['x-weft-error'], 'forbidden; policy=stock/0');
  assert.equal(stockHits(), before);
  assert.equal((await call('http://stock/', 'batch')).status, 403, 'the default (deny) for a source no rule names');

  const shadow = join(mesh.dir, 'shadow.yaml');
  writeFileSync(shadow, ACCESS.split('---\n')[1].replace('mode: enforce', 'mode: shadow'));
  const r = await weft(['apply', '-f', shadow, '--wait', '--control-plane', cpAddr]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const through = await call('http://stock/', 'web');
  assert.equal(through.status, 200);
  assert.equal(stockHits(), before + 1);
  const metrics = (await send({ port: a.adminPort, path: '/metrics' })).body.toString();
  assert.match(metrics, /weft_access_decisions_total\{service="stock",decision="shadow_deny",rule="stock\/0"\} 1/);
  assert.match(metrics, /weft_access_decisions_total\{service="stock",decision="deny",rule="stock\/0"\} 1/);
});

test('weft explain --from shows the access decision and the rule (or the default) that made it', async () => {
  const agent = `127.0.0.1:${a.adminPort}`;
  const allow = await weft(['explain', '--agent', agent, '--from', 'web', 'http://orders/api/items']);
  assert.equal(allow.code, 0, allow.stderr);
  assert.match(allow.stdout, /access: ALLOW by rule orders\/0 \(web-reads\), mode enforce/);
  const deny = await weft(['explain', '--agent', agent, '--from', 'reports', 'http://orders/api/items']);
  assert.match(deny.stdout, /access: DENY by orders\/default \(mesh default deny\)/);
  assert.match(deny.stdout, /access rule orders\/0 \(web-reads\): no match: source service reports is not one of web/);
  const shadow = await weft(['explain', '--agent', agent, '--from', 'spiffe://e2e.test/svc/web', 'http://stock/']);
  assert.match(shadow.stdout, /access: SHADOW-DENY .* by rule stock\/0, mode shadow/);
  const json = await getJson<{ access: { decision: string; defaultAccess: string; enforced: boolean } }>(
    a.adminPort,
    `/v1/explain?url=${encodeURIComponent('http://orders/admin')}&from=web`,
  );
  assert.deepEqual([json.access.decision, json.access.defaultAccess, json.access.enforced], ['deny', 'deny', true]);
});

test('weft history and rollback cover AccessPolicy', async () => {
  const history = await weft(['history', 'stock', '--control-plane', cpAddr]);
  assert.equal(history.code, 0, history.stderr);
  assert.match(history.stdout, /AccessPolicy stock/);
  const revisions = [...history.stdout.matchAll(/^\s*(\d+)\s/gm)].map((m) => Number(m[1]));
  const first = Math.min(...revisions);
  const back = await weft(['rollback', String(first), '--wait', '--control-plane', cpAddr]);
  assert.equal(back.code, 0, back.stdout + back.stderr);
  assert.match(back.stdout, /AccessPolicy stock: update/);
  const denied = await call('http://stock/', 'web');
  assert.equal(denied.status, 403, 'enforce mode is back');
});
