/**
 * Access policy end to end with real identities: a real control plane
 * process started with `--default-access deny`, `weft apply` / get / history
 * / rollback / explain as an operator runs them, and two real `weft agent`
 * processes (enforcement on, the default). Sources are what production has:
 * a local app's proxy credential (the registration's answer, sent as
 * Proxy-Authorization as any HTTP_PROXY=http://web:<secret>@... client does)
 * makes the calling agent present service web's certificate on the mTLS hop;
 * a call without a credential is the calling agent's identity. Agent b hosts
 * orders and decides for requests arriving over the mesh hop; agent a hosts
 * stock (and the callers web, batch, reports) and decides for its own apps'
 * calls to stock.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { newKeyAndCsr } from '@weft/agent/identity/key-and-csr';
import { CONTROL_PLANE_TLS_OPTIONS, loadWeftProto } from '@weft/shared';
import {
  type AgentProc,
  type ControlPlaneProc,
  echoHandler,
  getJson,
  Mesh,
  postJson,
  runWeft,
  send,
  viaProxy,
  waitFor,
} from './harness.js';

const weft = runWeft;

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
  - name: agent-a-health
    action: allow
    from: ["spiffe://e2e.test/agent/a"]
    match:
      path: { exact: /healthz }
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
let a: AgentProc;
let b: AgentProc;
let ordersHits = () => 0;
let stockHits = () => 0;
/** Proxy-Authorization of each local caller on agent a, from its registration's proxyUrl. */
const callers = new Map<string, string>();

/** The Proxy-Authorization a client sends for `http://user:secret@host:port` as its proxy URL. */
function proxyAuthorizationOf(proxyUrl: string): string {
  const u = new URL(proxyUrl);
  return `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
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

/** A call through agent a's outbound proxy as local app `source` (its credential), or without a credential. */
const call = (path: string, source?: string, method = 'GET') => {
  const auth = source === undefined ? undefined : callers.get(source);
  if (source !== undefined && auth === undefined) throw new Error(`no credential for ${source}`);
  return viaProxy(a.outboundPort, path, { method, headers: auth ? { 'proxy-authorization': auth } : {} });
};

before(async () => {
  mesh = new Mesh();
  cp = await mesh.controlPlane({ extra: ['--default-access', 'deny', '--trust-domain', 'e2e.test'] });
  cpAddr = `127.0.0.1:${cp.grpcPort}`;
  a = await mesh.agent('a', cp.grpcPort);
  b = await mesh.agent('b', cp.grpcPort);
  const orders = await mesh.service(echoHandler('orders-1'));
  const stock = await mesh.service(echoHandler('stock-1'));
  const idle = await mesh.service(echoHandler('caller'));
  ordersHits = () => orders.hits;
  stockHits = () => stock.hits;
  for (const [agent, body] of [
    [b, { name: 'orders', port: orders.port, id: 'orders-1' }],
    [a, { name: 'stock', port: stock.port, id: 'stock-1' }],
    // The callers: apps on host a that register (they serve nothing the test calls) and get a credential.
    [a, { name: 'web', port: idle.port, id: 'web-1' }],
    [a, { name: 'batch', port: idle.port, id: 'batch-1' }],
    [a, { name: 'reports', port: idle.port, id: 'reports-1' }],
  ] as const) {
    const r = await postJson(agent.adminPort, '/v1/services', body);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.match(String(r.json.credential), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(r.json.proxyUrl, `http://${body.name}:${r.json.credential}@127.0.0.1:${agent.outboundPort}`);
    callers.set(body.name, proxyAuthorizationOf(String(r.json.proxyUrl)));
  }
  // Without any AccessPolicy the mesh default (deny, from the control plane's flag) decides; agent a holds web's certificate by then.
  await waitFor('orders registered and refused by the default', async () => {
    const r = await call('http://orders/api/x', 'web');
    if (r.status === 403 && r.headers['x-weft-error'] === 'forbidden; policy=orders/default' && /svc\/web/.test(r.body.toString()))
      return true;
    // Thrown, so a timeout names what was answered last (waitFor keeps polling).
    throw new Error(`answered ${r.status} ${String(r.headers['x-weft-error'])}: ${r.body.toString().slice(0, 200)}`);
  });
});

after(async () => {
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

test("the destination agent decides over the mesh hop on the caller's certificate: a service by credential, an agent without one", async () => {
  const before = ordersHits();
  const ok = await call('http://orders/api/items', 'web');
  assert.equal(ok.status, 200, ok.body.toString());
  assert.equal(ordersHits(), before + 1);
  // The credential never leaves the calling agent: the app sees no proxy-authorization.
  assert.doesNotMatch(ok.body.toString(), /proxy-authorization/i);

  const admin = await call('http://orders/api/../admin/users', 'web');
  assert.equal(admin.status, 403);
  assert.equal(admin.headers['x-weft-error'], 'forbidden; policy=orders/1');
  assert.match(admin.body.toString(), /spiffe:\/\/e2e\.test\/svc\/web may not call service orders: rule orders\/1 \(no-admin\) denies it/);

  assert.equal((await call('http://orders/other', 'batch', 'POST')).status, 200);
  const stranger = await call('http://orders/api/items', 'reports');
  assert.equal(stranger.status, 403);
  assert.equal(stranger.headers['x-weft-error'], 'forbidden; policy=orders/default');
  assert.match(stranger.body.toString(), /svc\/reports .*no rule matched; mesh default deny/);

  // No credential: the caller is agent a itself, allowed by rule 3 for /healthz only.
  const asAgent = await call('http://orders/healthz');
  assert.equal(asAgent.status, 200, asAgent.body.toString());
  const agentElsewhere = await call('http://orders/api/items');
  assert.equal(agentElsewhere.status, 403);
  assert.match(agentElsewhere.body.toString(), /spiffe:\/\/e2e\.test\/agent\/a may not call service orders/);
  assert.equal(ordersHits(), before + 3, 'no refused request reached the app');

  // The caller cannot skip the check by calling the destination agent's inbound listener itself: without a mesh
  // certificate it gets no TLS session at all (an unauthenticated client), and with agent a's certificate the
  // destination still decides, for agent a (a header cannot claim a service).
  await assert.rejects(send({ port: b.inboundPort, path: '/admin', headers: { host: 'orders', 'x-weft-instance': 'orders-1' } }));
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: b.inboundPort, ca: mesh.meshTls('a').ca, checkServerIdentity: () => undefined });
      s.once('secureConnect', () => s.write('GET / HTTP/1.1\r\nhost: orders\r\nx-weft-instance: orders-1\r\n\r\n'));
      s.once('data', resolve);
      s.once('error', reject);
      s.once('close', () => reject(new Error('closed')));
    }),
    'a TLS client without a certificate is refused',
  );
  const direct = await meshRequest(b.inboundPort, mesh.meshTls('a'), '/api/items', {
    host: 'orders',
    'x-weft-instance': 'orders-1',
    'x-weft-source': 'spiffe://e2e.test/svc/web',
  });
  assert.equal(direct.status, 403);
  assert.equal(direct.headers['x-weft-error'], 'forbidden; policy=orders/default');

  const metrics = (await send({ port: b.adminPort, path: '/metrics' })).body.toString();
  assert.match(metrics, /weft_access_decisions_total\{service="orders",decision="allow",rule="orders\/0"\} 1/);
  assert.match(metrics, /weft_access_decisions_total\{service="orders",decision="allow",rule="orders\/3"\} 1/);
  assert.match(metrics, /weft_access_decisions_total\{service="orders",decision="deny",rule="orders\/1"\} 1/);
  assert.match(metrics, /weft_access_decisions_total\{service="orders",decision="deny",rule="orders\/default"\} \d/);
});

test('a wrong or malformed proxy credential is answered 407 proxy_auth_invalid; the app is not reached', async () => {
  const before = ordersHits();
  const wrong = await viaProxy(a.outboundPort, 'http://orders/api/items', {
    headers: { 'proxy-authorization': `Basic ${Buffer.from('web:not-the-secret').toString('base64')}` },
  });
  assert.equal(wrong.status, 407);
  assert.equal(wrong.headers['x-weft-error'], 'proxy_auth_invalid');
  assert.equal(wrong.headers['proxy-authenticate'], 'Basic realm="weft"');
  assert.match(wrong.body.toString(), /no local registration of service "web" has this secret/);
  // Another service's secret under web's name is wrong too (a secret names one service).
  const swapped = Buffer.from(callers.get('batch')?.slice(6) ?? '', 'base64')
    .toString()
    .split(':')[1];
  const crossed = await viaProxy(a.outboundPort, 'http://orders/api/items', {
    headers: { 'proxy-authorization': `Basic ${Buffer.from(`web:${swapped}`).toString('base64')}` },
  });
  assert.equal(crossed.status, 407);
  const malformed = await viaProxy(a.outboundPort, 'http://orders/api/items', { headers: { 'proxy-authorization': 'Bearer x' } });
  assert.equal(malformed.status, 407);
  assert.match(malformed.body.toString(), /must be "Basic <base64 of service:secret>"/);
  // The Host-header form (no proxy) carries the credential the same way.
  const hostForm = await send({
    port: a.outboundPort,
    path: '/api/items',
    headers: { host: 'orders', 'proxy-authorization': callers.get('web') ?? '' },
  });
  assert.equal(hostForm.status, 200, hostForm.body.toString());
  assert.equal(ordersHits(), before + 1);
});

test('a service certificate is issued only to the agent that hosts the service, and the inbound presents it by SNI', async () => {
  const id = mesh.meshTls('a');
  const trust = new (loadWeftProto().Trust)(
    cpAddr,
    mesh.tlsTo(cp.grpcPort, { keyPem: id.key, certificatePem: id.cert }),
    CONTROL_PLANE_TLS_OPTIONS,
  );
  try {
    const ask = async (service: string) => {
      const { csrPem } = await newKeyAndCsr(service);
      return new Promise<{ certificate_pem: string; service: string } | Error>((resolve) =>
        trust.IssueServiceCertificate({ service, csr_pem: csrPem }, (err, r) => resolve(err ?? (r as never))),
      );
    };
    const refused = await ask('orders');
    assert.ok(refused instanceof Error);
    assert.equal((refused as Error & { code: number }).code, 7, 'PERMISSION_DENIED');
    assert.match(refused.message, /agent "a" hosts no instance of service "orders"/);
    const issued = await ask('stock');
    assert.ok(!(issued instanceof Error), String(issued));
    const cert = new X509Certificate(issued.certificate_pem);
    assert.equal(cert.subjectAltName, 'URI:spiffe://e2e.test/svc/stock');
    assert.match(cert.subject, /CN=spiffe:\/\/e2e\.test\/agent\/a/);
  } finally {
    trust.close();
  }
  // Agent b's inbound presents orders' certificate to a caller that names orders in SNI, else its own.
  const presented = (servername?: string) =>
    new Promise<X509Certificate>((resolve, reject) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port: b.inboundPort,
        ...id,
        servername,
        minVersion: 'TLSv1.3',
        checkServerIdentity: () => undefined,
      });
      s.once('secureConnect', () => {
        const peer = s.getPeerX509Certificate();
        s.destroy();
        if (peer) resolve(peer);
        else reject(new Error('no peer certificate'));
      });
      s.once('error', reject);
    });
  const asOrders = await presented('orders');
  assert.equal(asOrders.subjectAltName, 'URI:spiffe://e2e.test/svc/orders');
  assert.match(asOrders.subject, /CN=spiffe:\/\/e2e\.test\/agent\/b/);
  assert.equal((await presented('stock')).subjectAltName, 'URI:spiffe://e2e.test/agent/b', 'a service b does not host: its own');
  assert.equal((await presented()).subjectAltName, 'URI:spiffe://e2e.test/agent/b');
  // A service registered later gets its certificate; deregistered, the agent drops it.
  const r = await postJson(b.adminPort, '/v1/services', { name: 'ledger', port: 9, id: 'ledger-1' });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  await waitFor(
    "b to hold ledger's certificate",
    async () => (await presented('ledger')).subjectAltName === 'URI:spiffe://e2e.test/svc/ledger',
  );
  assert.equal((await send({ port: b.adminPort, path: '/v1/services/ledger-1', method: 'DELETE' })).status, 200);
  await waitFor(
    "b to drop ledger's certificate",
    async () => (await presented('ledger')).subjectAltName === 'URI:spiffe://e2e.test/agent/b',
  );
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
