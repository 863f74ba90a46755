/**
 * What a newcomer meets first, run as they would run it: the `weft` command
 * against real control-plane and agent processes. Each test is one trap that
 * used to catch people (issue #14, "the rough edges a newcomer hit").
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AgentProc, type ControlPlaneProc, echoHandler, getJson, Mesh, runWeft, viaProxy, waitFor } from './harness.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `weft <args>` without blocking the test process (its in-process services keep answering). */
const weft = (...args: string[]): Promise<Run> => runWeft(args);

async function listening(): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

describe('the weft command as a newcomer uses it', () => {
  const mesh = new Mesh();
  let cp: ControlPlaneProc;
  let a: AgentProc;
  let cpFlag: string[];
  let agentFlag: string[];

  before(async () => {
    // A long lease, so a killed agent's instances stay listed long enough to look at them.
    cp = await mesh.controlPlane({ leaseTtl: '60s' });
    a = await mesh.agent('agent-a', cp.grpcPort, ['--subscription-idle-timeout', '1s']);
    cpFlag = ['--control-plane', `127.0.0.1:${cp.grpcPort}`];
    agentFlag = ['--agent', `127.0.0.1:${a.adminPort}`];
  });
  after(() => mesh.close());

  test('registering the same name and port again is refused without --replace, naming what would change', async () => {
    const svc = await mesh.service(echoHandler('orders-1'));
    const port = String(svc.port);
    const first = await weft('register', '--name', 'orders', '--port', port, '--tag', 'v1', '--health-tcp', ...agentFlag);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^registered orders as /);

    const same = await weft('register', '--name', 'orders', '--port', port, '--tag', 'v1', '--health-tcp', ...agentFlag);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /already registered, unchanged/);

    const changed = await weft('register', '--name', 'orders', '--port', port, ...agentFlag);
    assert.equal(changed.code, 2);
    assert.match(changed.stderr, /is already registered; this would change:\n {2}tags: \[v1\] -> \[\]\n/);
    assert.match(changed.stderr, /--replace/);
    const held = await getJson<{ services: { id: string; tags: string[] }[] }>(a.adminPort, '/v1/services');
    assert.deepEqual(held.services.find((s) => s.id.startsWith('orders-'))?.tags, ['v1'], 'nothing changed');

    const replaced = await weft('register', '--name', 'orders', '--port', port, '--replace', ...agentFlag);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stdout, /^replaced orders as .*\n {2}tags: \[v1\] -> \[\]/);
  });

  test('an instance registered without a check gets a TCP check: a dead port warns at once and turns critical', async () => {
    const closed = await listening();
    const port = String(portOf(closed));
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await weft('register', '--name', 'ghost', '--port', port, ...agentFlag);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`warning: nothing accepts connections on 127\\.0\\.0\\.1:${port} yet`));
    const ghost = await waitFor('ghost to turn critical at the control plane', async () => {
      const out = JSON.parse((await weft('services', ...cpFlag, '--json')).stdout) as {
        services: { name: string; instances: { health: string }[] }[];
      };
      const s = out.services.find((x) => x.name === 'ghost');
      return s?.instances[0].health === 'critical' ? s : undefined;
    });
    assert.equal(ghost.instances.length, 1);
  });

  test('--health-interval without a check, a duration without a unit and a misspelt option each get a clear error', async () => {
    const interval = await weft('register', '--name', 'x', '--port', '1', '--health-interval', '2s', ...agentFlag);
    assert.equal(interval.code, 2);
    assert.match(interval.stderr, /--health-interval needs a check to apply to: add --health-http <path> or --health-tcp/);

    const unitless = await weft('agent', '--request-timeout', '10', '--insecure');
    assert.equal(unitless.code, 2);
    assert.match(unitless.stderr, /--request-timeout: duration "10" needs a unit/);

    const typo = await weft('register', '--nme', 'orders', '--port', '1');
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /unknown option '--nme'/);
    assert.doesNotMatch(typo.stderr, /required option/);
    const missing = await weft('register', '--port', '1');
    assert.match(missing.stderr, /required option '--name <name>' not specified/);
  });

  test('weft services shows the owning agent state beside its instances: a killed agent is disconnected', async () => {
    const b = await mesh.agent('agent-b', cp.grpcPort);
    const svc = await mesh.service(echoHandler('stock-1'));
    const r = await weft('register', '--name', 'stock', '--port', String(svc.port), '--agent', `127.0.0.1:${b.adminPort}`);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('stock with agent-b connected', async () =>
      /stock\s.*agent-b\s+connected/.test((await weft('services', ...cpFlag)).stdout),
    );
    await b.stop('SIGKILL');
    const table = await waitFor('agent-b disconnected in weft services', async () => {
      const out = (await weft('services', ...cpFlag)).stdout;
      return /stock\s.*agent-b\s+disconnected since \S+Z \(\d+s ago\), removed in \d+s/.test(out) ? out : undefined;
    });
    assert.match(table, /AGENT STATE/);
    assert.match(table, /orders\s.*agent-a\s+connected/);
  });

  test('weft explain prints retry settings as lines, and for an unknown service exits 1 leaving no subscription', async () => {
    const known = await weft('explain', 'http://orders/x', ...agentFlag);
    assert.equal(known.code, 0, known.stderr);
    assert.match(known.stdout, /^retry: 2 retries after the first try \(agent default\)$/m);
    assert.doesNotMatch(known.stdout, /retry: \{/);

    const unknown = await weft('explain', 'http://nosuch/x', ...agentFlag);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /service "nosuch" does not exist in the mesh/);
    const config = await getJson<{ subscriptions: string[] }>(a.adminPort, '/config');
    assert.deepEqual(
      config.subscriptions.filter((n) => n.endsWith('/nosuch')),
      [],
      'no subscription left behind',
    );
  });

  test('the agent drops subscriptions to services no app called for --subscription-idle-timeout', async () => {
    const r = await viaProxy(a.outboundPort, 'http://orders/hello');
    assert.equal(r.status, 200);
    const subscribed = async () => (await getJson<{ subscriptions: string[] }>(a.adminPort, '/config')).subscriptions;
    assert.ok((await subscribed()).includes('endpoints/orders'));
    // orders is also registered on agent-a, so it is pinned there; stock (agent-b's, now gone) is not.
    await viaProxy(a.outboundPort, 'http://stock/hello');
    assert.ok((await subscribed()).includes('endpoints/stock'));
    await waitFor('endpoints/stock to be dropped', async () => !(await subscribed()).includes('endpoints/stock'), 10_000);
    assert.ok((await subscribed()).includes('endpoints/orders'), 'a service with a local instance stays subscribed');
    const again = await viaProxy(a.outboundPort, 'http://stock/hello');
    assert.notEqual(again.headers['x-weft-error'], 'control_plane_unavailable', 'a dropped service is subscribed again on use');
  });

  test('port-in-use errors name every busy port, its flag and the process holding it, and no raw gRPC text', async () => {
    const grpcBusy = await listening();
    const httpBusy = await listening();
    try {
      const r = await weft(
        'control-plane',
        '--insecure',
        '--host',
        '127.0.0.1',
        '--data-dir',
        join(mesh.dir, 'busy-cp'),
        '--grpc-port',
        String(portOf(grpcBusy)),
        '--http-port',
        String(portOf(httpBusy)),
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot listen on 2 ports/);
      assert.match(
        r.stderr,
        new RegExp(`--grpc-port ${portOf(grpcBusy)}: 127\\.0\\.0\\.1:${portOf(grpcBusy)} is in use by pid ${process.pid} `),
      );
      assert.match(
        r.stderr,
        new RegExp(`--http-port ${portOf(httpBusy)}: 127\\.0\\.0\\.1:${portOf(httpBusy)} is in use by pid ${process.pid} `),
      );
      assert.doesNotMatch(r.stderr, /No address added/);

      const agent = await weft(
        'agent',
        '--insecure',
        '--data-dir',
        join(mesh.dir, 'busy-agent'),
        '--advertise-address',
        '127.0.0.1',
        '--admin-port',
        String(a.adminPort),
        '--outbound-port',
        String(a.outboundPort),
        '--inbound-port',
        '0',
      );
      assert.equal(agent.code, 1);
      assert.match(agent.stderr, /cannot listen on 2 ports/);
      assert.match(agent.stderr, new RegExp(`--admin-port ${a.adminPort}: .* in use by pid ${a.pid} \\(.*weft.* agent`));
      assert.match(agent.stderr, new RegExp(`--outbound-port ${a.outboundPort}: .* in use by pid ${a.pid} `));
    } finally {
      grpcBusy.close();
      httpBusy.close();
    }
  });
});

describe('weft status after a control-plane restart', () => {
  const mesh = new Mesh();
  after(() => mesh.close());

  test('shows every resource the reconnected agent holds as acknowledged', async () => {
    let cp = await mesh.controlPlane({ restartGrace: '30s' });
    const a = await mesh.agent('agent-a', cp.grpcPort);
    const svc = await mesh.service(echoHandler('orders-1'));
    const cpFlag = ['--control-plane', `127.0.0.1:${cp.grpcPort}`];
    assert.equal((await weft('register', '--name', 'orders', '--port', String(svc.port), '--agent', `127.0.0.1:${a.adminPort}`)).code, 0);
    assert.equal((await viaProxy(a.outboundPort, 'http://orders/')).status, 200);
    const inSync = async () => {
      const out = (await weft('status', ...cpFlag)).stdout;
      const m = /agent-a\s+\S+\s+\d+\s+(\d+)\/(\d+) acked/.exec(out);
      return m && Number(m[2]) >= 3 && m[1] === m[2] && /in sync/.test(out) ? out : undefined;
    };
    await waitFor('every resource acked before the restart', inSync);

    const port = cp.grpcPort;
    const dataDir = cp.dataDir;
    await cp.stop();
    cp = await mesh.controlPlane({ grpcPort: port, dataDir, restartGrace: '30s' });
    const after = await waitFor('every resource acked after the restart', inSync, 20_000);
    assert.doesNotMatch(after, /\b0\/\d+ acked/);
  });
});

describe('who decides access: --insecure and --no-access-enforcement', () => {
  const mesh = new Mesh();
  after(() => mesh.close());

  test('two insecure agents carry a call between them: with no identities, access is not enforced (and each agent says so)', async () => {
    const cp = await mesh.controlPlane({ extra: ['--insecure'] });
    const a = await mesh.agent('agent-a', cp.grpcPort, ['--insecure']);
    const b = await mesh.agent('agent-b', cp.grpcPort, ['--insecure']);
    const svc = await mesh.service(echoHandler('orders-1'));
    assert.equal((await weft('register', '--name', 'orders', '--port', String(svc.port), '--agent', `127.0.0.1:${b.adminPort}`)).code, 0);
    // Through agent a (the plaintext mesh hop) and through agent b itself (its own instance).
    for (const via of [a, b]) {
      const last = await waitFor(`orders through ${via.agentId}`, async () => {
        const r = await viaProxy(via.outboundPort, 'http://orders/hello');
        return r.status === 200 ? r : undefined;
      });
      assert.equal(JSON.parse(last.body.toString()).instance, 'orders-1');
      assert.equal(last.headers['x-weft-error'], undefined);
    }
    for (const agent of [a, b])
      assert.ok(
        agent.logLines.some((l) => l.includes('access policy NOT enforced here') && l.includes('--insecure')),
        `${agent.agentId} says access is not enforced under --insecure`,
      );
  });

  test('an enrolled agent enforces access unless started with --no-access-enforcement', async () => {
    const cp = await mesh.controlPlane();
    const on = await mesh.agent('agent-on', cp.grpcPort);
    const off = await mesh.agent('agent-off', cp.grpcPort, ['--no-access-enforcement']);
    const notEnforced = (agent: AgentProc) => agent.logLines.filter((l) => l.includes('access policy NOT enforced here'));
    assert.deepEqual(notEnforced(on), []);
    assert.equal(notEnforced(off).length, 1);
    assert.match(notEnforced(off)[0] ?? '', /--no-access-enforcement/);
  });
});
