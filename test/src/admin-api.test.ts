import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { RegistrationError, register } from '@weft/client';
import { type AgentProc, type ControlPlaneProc, echoHandler, getJson, Mesh, send, servicesAtControlPlane, waitFor } from './harness.js';

function weft(...args: string[]) {
  return spawnSync(process.execPath, [WEFT_BIN, ...args], { encoding: 'utf8', timeout: 20_000 });
}

async function localIds(agent: AgentProc): Promise<string[]> {
  const data = await getJson<{ services: { id: string }[] }>(agent.adminPort, '/v1/services');
  return data.services.map((s) => s.id);
}

describe("a real agent's admin API", () => {
  const mesh = new Mesh();
  let cp: ControlPlaneProc;
  let a: AgentProc;

  before(async () => {
    cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
  });
  after(() => mesh.close());

  test('the Node helper registers (JSON, loopback Host) and deregisters (a DELETE without a body)', async () => {
    const svc = await mesh.service(echoHandler('orders-1'));
    const reg = await register({
      name: 'orders',
      port: svc.port,
      id: 'orders-1',
      agent: `127.0.0.1:${a.adminPort}`,
      deregisterOnSignal: false,
    });
    assert.equal(reg.id, 'orders-1');
    // The app's proxy credential, in a proxy URL any HTTP_PROXY-aware client takes as it is.
    assert.match(reg.credential ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(reg.proxyUrl, `http://orders:${reg.credential}@127.0.0.1:${a.outboundPort}`);
    await waitFor('orders at the control plane', async () => (await servicesAtControlPlane(cp)).get('orders')?.includes('orders-1'));
    await reg.deregister();
    assert.deepEqual(await localIds(a), []);
    // weft register prints it once (registering again makes a new one).
    const printed = weft(
      'register',
      '--name',
      'orders',
      '--port',
      String(svc.port),
      '--id',
      'orders-2',
      '--agent',
      `127.0.0.1:${a.adminPort}`,
    );
    assert.equal(printed.status, 0, printed.stderr);
    assert.match(printed.stdout, new RegExp(`HTTP_PROXY=http://orders:[A-Za-z0-9_-]{43}@127\\.0\\.0\\.1:${a.outboundPort}`));
    assert.equal(weft('deregister', 'orders-2', '--agent', `127.0.0.1:${a.adminPort}`).status, 0);
  });

  test('the Node helper and weft register report a registration at the agent itself, naming the field', async () => {
    await assert.rejects(
      register({ name: 'hijack', port: a.adminPort, agent: `http://localhost:${a.adminPort}`, deregisterOnSignal: false, retryForMs: 0 }),
      (err: unknown) =>
        err instanceof RegistrationError && err.status === 400 && err.field === 'port' && /own admin port/.test(err.message),
    );
    const r = weft('register', '--name', 'hijack', '--port', String(a.inboundPort), '--agent', `localhost:${a.adminPort}`);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`port: ${a.inboundPort} is this agent's own inbound port`));
    const remote = weft('register', '--name', 'db', '--port', '5432', '--address', '198.51.100.7', '--agent', `127.0.0.1:${a.adminPort}`);
    assert.equal(remote.status, 2, remote.stderr);
    assert.match(remote.stderr, /address: "198\.51\.100\.7" is not an address of this host/);
    assert.deepEqual(await localIds(a), []);
  });

  test('refuses what a web page could make a browser send: a rebound Host, a cross-origin simple POST', async () => {
    const rebound = await send({ port: a.adminPort, path: '/config', headers: { host: `attacker.example:${a.adminPort}` } });
    assert.equal(rebound.status, 403);
    assert.equal(rebound.headers['x-weft-error'], 'non_loopback_host');
    const csrf = await send({
      port: a.adminPort,
      path: '/v1/services',
      method: 'POST',
      headers: { origin: 'http://attacker.example', 'content-type': 'text/plain' },
      body: JSON.stringify({ name: 'planted', port: 9999 }),
    });
    assert.equal(csrf.status, 403);
    assert.equal(JSON.parse(csrf.body.toString()).error, 'cross_origin');
    const noOrigin = await send({
      port: a.adminPort,
      path: '/v1/services',
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify({ name: 'planted', port: 9999 }),
    });
    assert.equal(noOrigin.status, 415);
    assert.deepEqual(await localIds(a), []);
  });

  test('--allow-remote-registrations lets registrations point at the listed blocks only, if the control plane allows them too', async () => {
    // The agent's allowance alone is not enough: this control plane keeps instances on their agents' hosts.
    const strict = await mesh.agent('agent-strict', cp.grpcPort, ['--allow-remote-registrations', '198.51.100.0/24']);
    /** `weft register` of db at `address`:5432 through the admin API on `adminPort`. */
    const registerDb = (adminPort: number, address: string, ...extra: string[]) =>
      weft('register', '--name', 'db', '--port', '5432', '--address', address, '--agent', `127.0.0.1:${adminPort}`, ...extra);
    const refused = registerDb(strict.adminPort, '198.51.100.7');
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /address: "198\.51\.100\.7" is not on agent "agent-strict"'s host .*--allow-remote-instances/);
    const open = await mesh.controlPlane({ extra: ['--allow-remote-instances', '198.51.100.0/24'] });
    const b = await mesh.agent('agent-b', open.grpcPort, ['--allow-remote-registrations', '198.51.100.0/24']);
    const ok = registerDb(b.adminPort, '198.51.100.7', '--json');
    assert.equal(ok.status, 0, ok.stderr);
    const no = registerDb(b.adminPort, '203.0.113.7');
    assert.equal(no.status, 2);
    assert.match(no.stderr, /address: .*--allow-remote-registrations list/);
    const bad = weft('agent', '--allow-remote-registrations', '10.0.0.0/8,db.internal', '--admin-port', '0');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--allow-remote-registrations\[1\]: expected an IP address or CIDR block/);
  });
});
