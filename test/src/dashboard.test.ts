/**
 * The dashboard in a real browser (chromium via playwright-core) against a
 * live mesh: a control plane, two agents, three service instances, traffic
 * through the proxy, config applied twice. Clicks through every view,
 * asserts what each shows, sees a newly registered service appear without a
 * reload, and checks that a browser on another host must give a token.
 * Screenshots go to test/artifacts/ui/.
 *
 * Golden metrics: while /v1/stats is missing (or reports nothing), the
 * metric views must say "no data yet"; once it answers with numbers, the same
 * test asserts the numbers and the topology edge instead.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, browserSkipReason, launchBrowser, remoteAddress } from './browser.js';
import { type AgentProc, type ControlPlaneProc, echoHandler, Mesh, registerWith, runWeft, send, viaProxy, waitFor } from './harness.js';

const skip = browserSkipReason();

const ROUTES_V1 = `apiVersion: weft.dev/v1
kind: Routes
metadata:
  service: orders
rules:
  - name: stable
    route:
      - tags: [version=v1]
`;
const ROUTES_V2 = `apiVersion: weft.dev/v1
kind: Routes
metadata:
  service: orders
rules:
  - name: canary
    route:
      - tags: [version=v1]
        weight: 90
      - tags: [version=v2]
        weight: 10
---
apiVersion: weft.dev/v1
kind: ServicePolicy
metadata:
  service: orders
rateLimit:
  requestsPerSecond: 1000
  burst: 100
`;

let mesh: Mesh;
let cp: ControlPlaneProc;
let agentA: AgentProc;
let agentB: AgentProc;
let browser: Browser | undefined;
let remoteIp: string | undefined;
let traffic: NodeJS.Timeout | undefined;
const pageErrors: string[] = [];

async function weft(args: string[]): Promise<{ code: number; out: string }> {
  const r = await runWeft(args);
  return { code: r.code, out: r.stdout + r.stderr };
}

async function apply(yaml: string, name: string): Promise<void> {
  const file = join(mesh.dir, name);
  writeFileSync(file, yaml);
  const r = await weft(['apply', '-f', file, '--control-plane', `127.0.0.1:${cp.grpcPort}`]);
  assert.equal(r.code, 0, r.out);
}

/** Whether the control plane serves golden metrics with data for `orders` (the metrics assertions switch on it). */
async function statsFor(service: string): Promise<boolean> {
  const r = await send({ port: cp.httpPort, path: '/v1/stats?window=60s' });
  if (r.status === 404) return false;
  assert.equal(r.status, 200, r.body.toString());
  // Agents report every few seconds: give the first report time to land.
  return waitFor(
    `/v1/stats to report ${service}`,
    async () => {
      const s = await send({ port: cp.httpPort, path: '/v1/stats?window=60s' });
      const body = JSON.parse(s.body.toString()) as { services?: { service: string; requestsPerSecond: number }[] };
      return body.services?.some((x) => x.service === service && x.requestsPerSecond > 0) ?? false;
    },
    30_000,
    500,
  );
}

/**
 * A page of the dashboard at `base`. On this host the page starts with a read
 * token in its sessionStorage, as if one had been typed into the login form
 * (the control plane's reads need a token from loopback too); from another
 * host (`loggedIn` false) it starts without one.
 */
async function newPage(base: string, loggedIn = true): Promise<Page> {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  if (loggedIn) {
    const token = await mesh.createToken(cp.grpcPort, { kind: 'read' });
    await page.addInitScript({ content: `sessionStorage.setItem('weft.token', ${JSON.stringify(token)});` });
  }
  page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    // A 404 from /v1/stats is the "no data yet" case before golden metrics land; a 401 is the remote login case.
    if (msg.type() === 'error' && !/\/v1\/stats/.test(msg.location().url) && !/status of 401/.test(msg.text()))
      pageErrors.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  await page.goto(`${base}/ui/`);
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const text = async (page: Page, selector: string) => (await page.locator(selector).first().textContent())?.trim() ?? '';
/**
 * Polls an element's text from the test side until it matches (a string predicate run in the
 * page would be eval, which the dashboard's CSP rightly refuses).
 */
async function waitForText(page: Page, selector: string, want: RegExp, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    last = await text(page, selector).catch(() => '');
    if (want.test(last)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${selector}: text ${JSON.stringify(last)} never matched ${want}`);
}

before(async () => {
  if (skip) return;
  remoteIp = await remoteAddress();
  mesh = new Mesh();
  // Listening on every address lets the test be "another host" through a non-loopback address.
  cp = await mesh.controlPlane({ extra: remoteIp ? ['--host', '0.0.0.0'] : [] });
  agentA = await mesh.agent('host-a', cp.grpcPort);
  agentB = await mesh.agent('host-b', cp.grpcPort);
  const v1 = await mesh.service(echoHandler('orders-1'));
  const v2 = await mesh.service(echoHandler('orders-2'));
  const web = await mesh.service(echoHandler('web-1'));
  await registerWith(agentB, { name: 'orders', port: v1.port, id: 'orders-1', tags: ['version=v1'] });
  await registerWith(agentB, { name: 'orders', port: v2.port, id: 'orders-2', tags: ['version=v2'] });
  await registerWith(agentA, { name: 'web', port: web.port, id: 'web-1' });
  await apply(ROUTES_V1, 'v1.yaml');
  await apply(ROUTES_V2, 'v2.yaml');
  await waitFor('orders reachable', async () => (await viaProxy(agentA.outboundPort, 'http://orders/')).status === 200);
  // Light, bounded traffic for the whole test (10 requests/s to loopback).
  traffic = setInterval(() => void viaProxy(agentA.outboundPort, 'http://orders/items').catch(() => {}), 100);
  browser = await launchBrowser();
});

after(async () => {
  if (traffic) clearInterval(traffic);
  await browser?.close();
  await mesh?.close();
});

test('the services view lists every service with instances, health, protocol and agents', { skip }, async () => {
  const page = await newPage(`http://127.0.0.1:${cp.httpPort}`);
  await page.locator('[data-service="orders"]').waitFor();
  assert.equal(await text(page, '[data-service="orders"] [data-passing]'), '2/2 passing');
  assert.equal(await text(page, '[data-service="web"] [data-passing]'), '1/1 passing');
  const orders = await text(page, '[data-service="orders"]');
  assert.match(orders, /http/);
  assert.match(orders, /host-b/);
  await page.locator('[data-live="live"]').waitFor();
  if (await statsFor('orders')) {
    await waitForText(page, '[data-service="orders"] [data-metric="rate"]', /\/s$/);
    assert.match(await text(page, '[data-service="orders"] [data-metric="success"]'), /^\d+(\.\d+)?%$/);
  } else {
    await page.locator('[data-no-data]').waitFor();
    assert.equal(await text(page, '[data-service="orders"] [data-metric="rate"]'), '–');
  }
  await shot(page, '1-services');

  // Live update: a service registered while the page is open appears without a reload.
  await page.evaluate('window.notReloaded = true');
  const payments = await mesh.service(echoHandler('payments-1'));
  await registerWith(agentA, { name: 'payments', port: payments.port, id: 'payments-1' });
  await page.locator('[data-service="payments"]').waitFor({ timeout: 15_000 });
  assert.equal(await page.evaluate('window.notReloaded'), true);
  await shot(page, '2-services-live-update');
  await page.close();
});

test('a service page shows each instance with its health and owning agent, and its golden metrics', { skip }, async () => {
  const page = await newPage(`http://127.0.0.1:${cp.httpPort}`);
  await page.locator('[data-service="orders"] a').click();
  await page.locator('[data-instance="orders-1"]').waitFor();
  assert.equal(page.url().endsWith('#/services/orders'), true);
  for (const id of ['orders-1', 'orders-2']) {
    const row = `[data-instance="${id}"]`;
    assert.equal(await text(page, `${row} [data-health]`), 'passing');
    assert.equal(await text(page, `${row} [data-agent-state]`), 'connected');
    assert.match(await text(page, row), /host-b/);
  }
  if (await statsFor('orders')) {
    await page.locator('[data-chart] canvas').first().waitFor();
    assert.equal(await page.locator('[data-chart]').count(), 3);
    assert.match(await text(page, '[data-summary] [data-metric="rate"]'), /\/s$/);
  } else {
    await page.locator('[data-no-data]').waitFor();
    assert.equal(await page.locator('[data-chart]').count(), 0);
  }
  await shot(page, '3-service-orders');
  await page.close();
});

test('the topology shows every service as a node and, with stats, each edge with its rate and success', { skip }, async () => {
  const page = await newPage(`http://127.0.0.1:${cp.httpPort}`);
  await page.locator('[data-nav="topology"]').click();
  await page.locator('[data-node="orders"]').waitFor();
  for (const name of ['orders', 'web', 'payments']) assert.equal(await page.locator(`[data-node="${name}"]`).count(), 1, name);
  if (await statsFor('orders')) {
    await page.locator('[data-edge$="->orders"]').first().waitFor();
    assert.match(await text(page, '[data-edge$="->orders"] text'), /\/s · \d/);
  } else {
    await page.locator('[data-no-data]').waitFor();
    assert.equal(await page.locator('[data-edge]').count(), 0);
  }
  await shot(page, '4-topology');
  await page.close();
});

test('the agents view shows connection, per-resource ACKs and certificate expiry', { skip }, async () => {
  const page = await newPage(`http://127.0.0.1:${cp.httpPort}`);
  await page.locator('[data-nav="agents"]').click();
  await page.locator('[data-agent="host-a"]').waitFor();
  for (const id of ['host-a', 'host-b']) {
    assert.equal(await text(page, `[data-agent="${id}"] [data-agent-state]`), 'connected');
    assert.match(await text(page, `[data-agent="${id}"] [data-cert-expiry]`), /^\d{4}-\d\d-\d\d .*\(in \d+h/);
  }
  // host-a calls orders: it subscribed to the endpoints and the policy, and acknowledged both.
  await waitForText(page, '[data-agent="host-a"] [data-resource="endpoints/orders"] .badge', /^ACK \d+$/);
  assert.match(await text(page, '[data-agent="host-a"] [data-resource="policy/orders"] .badge'), /^ACK 2$/);
  assert.equal(await page.locator('[data-nack-reason]').count(), 0);
  await shot(page, '5-agents');
  await page.close();
});

test('the config view shows the stored documents, the history and the diff of a revision', { skip }, async () => {
  const page = await newPage(`http://127.0.0.1:${cp.httpPort}`);
  await page.locator('[data-nav="config"]').click();
  await page.locator('[data-document="Routes/orders"]').waitFor();
  assert.equal(await page.locator('[data-document="ServicePolicy/orders"]').count(), 1);
  assert.deepEqual(await page.locator('[data-history] > li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-revision'))), [
    '2',
    '1',
  ]);
  await page.locator('[data-revision="2"] button').click();
  const diff = page.locator('[data-revision="2"] [data-change="Routes/orders"] [data-diff]');
  await diff.waitFor();
  const added = await diff.locator('[data-op="add"]').allTextContents();
  const removed = await diff.locator('[data-op="del"]').allTextContents();
  assert.ok(
    added.some((l) => /"name": "canary"/.test(l)),
    added.join('\n'),
  );
  assert.ok(
    added.some((l) => /"weight": 10/.test(l)),
    added.join('\n'),
  );
  assert.ok(
    removed.some((l) => /"name": "stable"/.test(l)),
    removed.join('\n'),
  );
  // Unchanged lines stay as context.
  assert.ok((await diff.locator('[data-op="same"]').allTextContents()).some((l) => /"service": "orders"/.test(l)));
  // The new ServicePolicy is all additions.
  assert.equal(await page.locator('[data-revision="2"] [data-change="ServicePolicy/orders"] [data-op="del"]').count(), 0);
  await shot(page, '6-config-history-diff');

  // Applying again while the page is open shows revision 3 without a reload.
  await apply(ROUTES_V1, 'v3.yaml');
  await page.locator('[data-revision="3"]').waitFor({ timeout: 15_000 });
  await page.close();
});

test('from another host the dashboard loads but the data needs a read token', { skip }, async (t) => {
  if (!remoteIp) {
    t.skip('this host has no non-loopback IPv4 address');
    return;
  }
  const base = `http://${remoteIp}:${cp.httpPort}`;
  // Without a token: the API refuses with x-weft-error, the static files are served.
  for (const path of ['/v1/services', '/v1/config', '/v1/config/history', '/v1/events']) {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 401, path);
    assert.equal(res.headers.get('x-weft-error'), 'unauthenticated', path);
    assert.match(((await res.json()) as { message: string }).message, /token is required/);
  }
  assert.equal((await fetch(`${base}/ui/`)).status, 200);

  const page = await newPage(base, false);
  await page.locator('form.login').waitFor();
  await shot(page, '7-remote-login');
  await page.fill('input[name="token"]', 'not-a-token');
  await page.click('button[type="submit"]');
  await page.locator('[data-login-error]').waitFor();
  const token = await mesh.createToken(cp.grpcPort, { kind: 'read' });
  await page.fill('input[name="token"]', token);
  await page.click('button[type="submit"]');
  await page.locator('[data-service="orders"]').waitFor();
  // The live stream carries the token too (fetch with authorization, not a query string).
  await page.locator('[data-live="live"]').waitFor();
  await shot(page, '8-remote-with-token');
  await page.close();
});

test('an agent that NACKs a config version shows the rejected version and its reason', { skip }, async () => {
  // A stored document the agent cannot accept (as from a newer or damaged control plane), written behind
  // the control plane's back as in policy-e2e.test.ts: a path prefix without its leading "/".
  await cp.stop('SIGTERM', 5000);
  const db = new Database(join(cp.dataDir, 'control-plane.db'));
  try {
    const row = db.prepare("SELECT json, revision FROM policy WHERE service = 'orders' AND kind = 'Routes'").get() as { json: string };
    const doc = JSON.parse(row.json) as { rules: unknown[] };
    doc.rules.unshift({ name: 'bad', match: { path: { prefix: 'no-slash' } }, route: [{ tags: ['version=v1'] }] });
    const revision = Number((db.prepare("SELECT value FROM meta WHERE key = 'config_revision'").get() as { value: string }).value) + 1;
    db.prepare("UPDATE policy SET json = ?, revision = ? WHERE service = 'orders' AND kind = 'Routes'").run(JSON.stringify(doc), revision);
    db.prepare("INSERT INTO policy_revisions VALUES (?, '2026-01-01T00:00:00Z', 'manual edit')").run(revision);
    db.prepare("INSERT INTO policy_history VALUES (?, 'orders', 'Routes', ?, ?)").run(revision, JSON.stringify(doc), row.json);
    db.prepare("UPDATE meta SET value = ? WHERE key = 'config_revision'").run(String(revision));
  } finally {
    db.close();
  }
  cp = await mesh.controlPlane({ grpcPort: cp.grpcPort, dataDir: cp.dataDir, extra: remoteIp ? ['--host', '0.0.0.0'] : [] });

  const page = await newPage(`http://127.0.0.1:${cp.httpPort}`);
  await page.locator('[data-nav="agents"]').click();
  const reason = page.locator('[data-agent="host-a"] [data-resource="policy/orders"] [data-nack-reason]');
  await reason.waitFor({ timeout: 30_000 });
  assert.match((await reason.textContent()) ?? '', /rules\[0\]\.match\.path\.prefix: must start with "\/"/);
  assert.match(await text(page, '[data-agent="host-a"] [data-resource="policy/orders"] .badge'), /^NACK \d+$/);
  await shot(page, '9-agents-nack');
  await page.close();
});

test('no page error and no Content-Security-Policy violation in any view', { skip }, () => {
  assert.deepEqual(pageErrors, []);
});
