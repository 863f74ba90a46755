/**
 * End to end, real processes: `weft apply` (dry run, errors, --wait), a 90/10
 * canary by instance tags measured over 2,000 requests, header routing, fault
 * injection rates, a rate limit, get/apply round trip, explain, a NACK that
 * leaves the previous config in force and shows in `weft status`, rollback.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { type AgentProc, type ControlPlaneProc, echoHandler, Mesh, registerWith, runWeft, viaProxy, waitFor } from './harness.js';

const weft = runWeft;

const ROUTES = `apiVersion: weft.dev/v1
kind: Routes
metadata:
  service: orders
rules:
  - name: beta-users
    match:
      headers:
        - name: x-user
          exact: "1"
    route:
      - tags: [version=v2]
  - name: fault
    match:
      path: { prefix: /fault }
    fault:
      abort: { percent: 30, status: 503 }
      delay: { percent: 100, duration: 30ms }
    route:
      - tags: [version=v1]
  - name: maintenance
    match:
      path: { exact: /maintenance }
    directResponse: { status: 503, body: down for maintenance }
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
  service: limited
rateLimit:
  requestsPerSecond: 5
  burst: 5
`;

let mesh: Mesh;
let cp: ControlPlaneProc;
let agent: AgentProc;
let cpAddr: string;
let file: string;

async function servedBy(n: number, path: string, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const one = async () => {
    const r = await viaProxy(agent.outboundPort, `http://orders${path}`, { headers });
    const key = r.status === 200 ? String(r.headers['x-served-by']) : `${r.status} ${r.headers['x-weft-error'] ?? ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: Math.min(20, n - i) }, one));
  return counts;
}

before(async () => {
  mesh = new Mesh();
  cp = await mesh.controlPlane();
  cpAddr = `127.0.0.1:${cp.grpcPort}`;
  agent = await mesh.agent('a', cp.grpcPort);
  const v1 = await mesh.service(echoHandler('v1'));
  const v2 = await mesh.service(echoHandler('v2'));
  const lim = await mesh.service(echoHandler('limited'));
  await registerWith(agent, { name: 'orders', port: v1.port, id: 'orders-v1', tags: ['version=v1'] });
  await registerWith(agent, { name: 'orders', port: v2.port, id: 'orders-v2', tags: ['version=v2'] });
  await registerWith(agent, { name: 'limited', port: lim.port, id: 'limited-1' });
  file = join(mesh.dir, 'routes.yaml');
  writeFileSync(file, ROUTES);
  // First calls subscribe the agent to both services (and their policies).
  await waitFor('orders reachable', async () => (await viaProxy(agent.outboundPort, 'http://orders/')).status === 200);
  await waitFor('limited reachable', async () => (await viaProxy(agent.outboundPort, 'http://limited/')).status === 200);
});

after(async () => {
  await mesh?.close();
});

test('apply --dry-run reports errors by file, document and field, and stores nothing', async () => {
  const bad = join(mesh.dir, 'bad.yaml');
  writeFileSync(
    bad,
    `${ROUTES}---\napiVersion: weft.dev/v1\nkind: Routes\nmetadata: { service: payments }\nrules:\n  - route: [{}]\n  - match: { path: { regex: "(" } }\n    route: [{}]\n`,
  );
  const r = await weft(['apply', '-f', bad, '--dry-run', '--control-plane', cpAddr]);
  assert.equal(r.code, 2, r.stderr);
  // Lines count from the top of the file: ROUTES, then "---", four lines and the second rule.
  const line = ROUTES.split('\n').length - 1 + 7;
  assert.match(r.stderr, new RegExp(`bad\\.yaml: doc 3: line ${line}: rules\\[1\\]\\.match\\.path\\.regex: invalid regular expression`));
  const dry = await weft(['apply', '-f', file, '--dry-run', '--control-plane', cpAddr]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /Routes orders: create \(dry run\)/);
  assert.match(dry.stdout, /\+ {3}- name: beta-users/);
  assert.match(dry.stdout, /dry run: nothing applied/);
  const get = await weft(['get', 'all', '--control-plane', cpAddr]);
  assert.match(get.stderr, /nothing stored/);
});

test('apply --wait returns once the agent ACKed; 90/10 canary, header routing, direct response', async () => {
  const r = await weft(['apply', '-f', file, '--wait', '--control-plane', cpAddr]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /applied as revision 1/);
  assert.match(r.stdout, /agents: 2 ACKed, 0 NACKed, 0 pending/);

  const split = await servedBy(2000, '/items');
  const v2 = (split.get('v2') ?? 0) / 2000;
  assert.equal((split.get('v1') ?? 0) + (split.get('v2') ?? 0), 2000, JSON.stringify([...split]));
  assert.ok(v2 > 0.07 && v2 < 0.13, `v2 share ${v2}`);

  const beta = await servedBy(50, '/items', { 'x-user': '1' });
  assert.deepEqual([...beta], [['v2', 50]]);

  const down = await viaProxy(agent.outboundPort, 'http://orders/maintenance');
  assert.equal(down.status, 503);
  assert.equal(down.headers['x-weft-rule'], 'orders/maintenance', 'a named rule is shown by its name');
  assert.equal(down.body.toString(), 'down for maintenance');

  const ok = await viaProxy(agent.outboundPort, 'http://orders/items');
  assert.equal(ok.headers['x-weft-rule'], 'orders/canary');
});

test('fault injection: observed abort rate and delay', async () => {
  const started = performance.now();
  const counts = await servedBy(400, '/fault');
  const elapsed = performance.now() - started;
  const aborted = counts.get('503 fault_injected; rule=orders/1') ?? 0;
  assert.equal(aborted + (counts.get('v1') ?? 0), 400, JSON.stringify([...counts]));
  assert.ok(aborted / 400 > 0.22 && aborted / 400 < 0.38, `abort rate ${aborted / 400}`);
  // 20 batches of 20 concurrent requests, each forwarded one delayed 30 ms.
  assert.ok(elapsed >= 20 * 30, `elapsed ${elapsed}`);
});

test('the local rate limit answers 429 naming the limit', async () => {
  const answers = await Promise.all(Array.from({ length: 20 }, () => viaProxy(agent.outboundPort, 'http://limited/')));
  const limited = answers.filter((a) => a.status === 429);
  assert.ok(limited.length >= 10, `429s: ${limited.length}`);
  assert.equal(limited[0].headers['x-weft-error'], 'rate_limited; limit=limited');
  assert.match(limited[0].body.toString(), /local rate limit of 5\/s/);
});

test('get prints YAML that apply accepts back unchanged; explain runs the agent code', async () => {
  const got = await weft(['get', 'routes', 'orders', '--control-plane', cpAddr]);
  assert.equal(got.code, 0, got.stderr);
  const back = join(mesh.dir, 'back.yaml');
  writeFileSync(back, got.stdout);
  const again = await weft(['apply', '-f', back, '--control-plane', cpAddr]);
  assert.match(again.stdout, /Routes orders: unchanged/);
  assert.match(again.stdout, /nothing changed; revision 1/);

  // Headers may come before or after the URL, as with curl.
  const ex = await weft(['explain', '--agent', `127.0.0.1:${agent.adminPort}`, '-H', 'x-user: 2', '--from', 'web', 'http://orders/items']);
  assert.equal(ex.code, 0, ex.stderr);
  assert.match(ex.stdout, /rule orders\/0 \(beta-users\): no match: header x-user is "2", not "1"/);
  assert.match(ex.stdout, /rule orders\/3 \(canary\): MATCH -> route/);
  assert.match(ex.stdout, /destination orders \[version=v2\]: 10%/);
  assert.match(ex.stdout, /orders-v2 .* health=passing/);
  // The canary rule sets no timeouts or retry: the agent's defaults are shown as numbers.
  assert.match(ex.stdout, /^timeouts: deadline 15s \(agent default\), per try 5s \(agent default\)$/m);
  assert.match(ex.stdout, /^retry: 2 retries after the first try \(agent default\)$/m);
});

test('a NACKed version leaves the previous config in force and shows in weft status; rollback', async () => {
  // Version 2 removes the canary (all to v1).
  writeFileSync(file, ROUTES.replace('        weight: 10\n', '        weight: 0\n'));
  const r2 = await weft(['apply', '-f', file, '--wait', '--control-plane', cpAddr]);
  assert.match(r2.stdout, /applied as revision 2/);
  assert.deepEqual([...(await servedBy(100, '/items'))], [['v1', 100]]);

  // A stored document the agent cannot accept (as from a newer or damaged control plane): written behind its back.
  await cp.stop('SIGTERM', 5000);
  const db = new Database(join(cp.dataDir, 'control-plane.db'));
  const row = db.prepare("SELECT json FROM policy WHERE service = 'orders' AND kind = 'Routes'").get() as { json: string };
  db.prepare("UPDATE policy SET json = ?, revision = 3 WHERE service = 'orders' AND kind = 'Routes'").run(
    row.json.replace('"/fault"', '"fault"'),
  );
  db.prepare("INSERT INTO policy_revisions VALUES (3, '2020-01-01T00:00:00Z', 'manual edit')").run();
  db.prepare("INSERT INTO policy_history VALUES (3, 'orders', 'Routes', ?, ?)").run(row.json.replace('"/fault"', '"fault"'), row.json);
  db.prepare("UPDATE meta SET value = 3 WHERE key = 'config_revision'").run();
  db.close();
  cp = await mesh.controlPlane({ grpcPort: cp.grpcPort, dataDir: cp.dataDir });

  const status = await waitFor('NACK visible', async () => {
    const s = await weft(['status', '--control-plane', cpAddr]);
    return /policy\/orders .*3: routes\.rules\[1\]\.match\.path\.prefix: must start with "\/"/.test(s.stdout) ? s.stdout : null;
  });
  assert.match(status, /REJECTED|3: routes/);
  // Still version 2 in force: all to v1.
  assert.deepEqual([...(await servedBy(50, '/items'))], [['v1', 50]]);

  const hist = await weft(['history', 'orders', '--control-plane', cpAddr]);
  assert.match(hist.stdout, /^1 .*apply/m);
  const rb = await weft(['rollback', '1', '--wait', '--control-plane', cpAddr]);
  assert.equal(rb.code, 0, rb.stdout + rb.stderr);
  assert.match(rb.stdout, /rolled back to 1 as revision 4/);
  const split = await servedBy(400, '/items');
  assert.ok((split.get('v2') ?? 0) > 10, JSON.stringify([...split]));
});
