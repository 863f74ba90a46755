import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { type AgentProc, type ControlPlaneProc, echoHandler, Mesh, waitFor } from './harness.js';

function weft(...args: string[]) {
  return spawnSync(process.execPath, [WEFT_BIN, ...args], { encoding: 'utf8', timeout: 20_000 });
}

describe('the weft command', () => {
  const mesh = new Mesh();
  let cp: ControlPlaneProc;
  let a: AgentProc;

  before(async () => {
    cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
  });
  after(() => mesh.close());

  test('register, services, status and deregister work against real processes', async () => {
    const svc = await mesh.service(echoHandler('orders-1'));
    const reg = weft(
      'register',
      '--name',
      'orders',
      '--port',
      String(svc.port),
      '--tag',
      'v1',
      '--agent',
      `127.0.0.1:${a.adminPort}`,
      '--json',
    );
    assert.equal(reg.status, 0, reg.stderr);
    const id = JSON.parse(reg.stdout).id as string;
    assert.ok(id);

    const cpFlag = ['--control-plane', `127.0.0.1:${cp.grpcPort}`];
    const listed = await waitFor('orders in weft services', () => {
      const r = weft('services', ...cpFlag, '--json');
      const data = JSON.parse(r.stdout) as { services: { name: string; instances: { id: string; agent: string; health: string }[] }[] };
      return data.services.find((s) => s.name === 'orders');
    });
    assert.equal(listed.instances[0].id, id);
    assert.equal(listed.instances[0].agent, 'agent-a');

    const table = weft('services', ...cpFlag);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /SERVICE\s+INSTANCE\s+ADDRESS\s+PROTOCOL\s+HEALTH\s+AGENT/);
    assert.match(table.stdout, new RegExp(`orders\\s+${id}\\s+\\S+\\s+http\\s`), 'a registration without --protocol speaks http');
    assert.match(table.stdout, new RegExp(`orders\\s+${id}`));

    const status = weft('status', ...cpFlag);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /1 agent\(s\) connected/);
    assert.match(status.stdout, /agent-a/);

    const grpcSvc = await mesh.service(echoHandler('greeter-1'));
    const greeter = weft(
      'register',
      '--name',
      'greeter',
      '--port',
      String(grpcSvc.port),
      '--protocol',
      'grpc',
      '--agent',
      `127.0.0.1:${a.adminPort}`,
    );
    assert.equal(greeter.status, 0, greeter.stderr);
    const withProtocol = await waitFor('greeter with its protocol in weft services', () => {
      const data = JSON.parse(weft('services', ...cpFlag, '--json').stdout) as {
        services: { name: string; instances: { protocol: string }[] }[];
      };
      return data.services.find((s) => s.name === 'greeter');
    });
    assert.equal(withProtocol.instances[0].protocol, 'grpc');
    const refused = weft('register', '--name', 'x', '--port', '1', '--protocol', 'smtp', '--agent', `127.0.0.1:${a.adminPort}`);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /protocol: must be one of http, http2, grpc, tcp/);

    const dereg = weft('deregister', id, '--agent', `127.0.0.1:${a.adminPort}`);
    assert.equal(dereg.status, 0, dereg.stderr);
    await waitFor('orders to be gone', () => {
      const data = JSON.parse(weft('services', ...cpFlag, '--json').stdout) as { services: { name: string }[] };
      return !data.services.some((s) => s.name === 'orders');
    });
  });

  test('a control plane that is not there gives one clear line and exit code 1', () => {
    const r = weft('services', '--control-plane', '127.0.0.1:1');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^weft: cannot reach the control plane at 127\.0\.0\.1:1/);
  });

  test('--help works on every command', () => {
    for (const cmd of ['control-plane', 'agent', 'register', 'deregister', 'services', 'status', 'demo']) {
      const r = weft(cmd, '--help');
      assert.equal(r.status, 0, `${cmd} --help: ${r.stderr}`);
      assert.match(r.stdout, /Usage: weft/);
    }
  });
});
