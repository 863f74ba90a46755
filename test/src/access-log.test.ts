import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { type AgentProc, echoHandler, Mesh, registerWith, runWeft, send, viaProxy, waitFor } from './harness.js';

const weft = (...args: string[]) => runWeft(args);

const lines = (file: string): Record<string, unknown>[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

describe('the access log of a running agent', () => {
  const mesh = new Mesh();
  const file = join(mesh.dir, 'a-access.log');
  let a: AgentProc;
  const stdoutLines: Record<string, unknown>[] = [];

  before(async () => {
    const cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort, ['--access-log', file]);
    const b = await mesh.agent('agent-b', cp.grpcPort, ['--access-log', 'stdout']);
    createInterface({ input: b.child.stdout! }).on('line', (l) => stdoutLines.push(JSON.parse(l) as Record<string, unknown>));
    const orders = await mesh.service(echoHandler('orders-1'));
    await registerWith(b, { name: 'orders', port: orders.port, id: 'orders-1' });
    await waitFor('orders to be routable', async () => (await viaProxy(a.outboundPort, 'http://orders/warm')).status === 200);
  });
  after(() => mesh.close());

  test('agent A appends its outbound line to the file and agent B writes its inbound line to stdout', async () => {
    const r = await viaProxy(a.outboundPort, 'http://orders/hello', { method: 'POST', body: 'abc', headers: { 'x-request-id': 'e2e-1' } });
    assert.equal(r.status, 200);
    const out = await waitFor('the outbound line', () => lines(file).find((l) => l.requestId === 'e2e-1'));
    const inb = await waitFor('the inbound line', () => stdoutLines.find((l) => l.requestId === 'e2e-1'));
    assert.equal(out.direction, 'outbound');
    assert.equal(inb.direction, 'inbound');
    for (const l of [out, inb]) {
      assert.equal(l.service, 'orders');
      assert.equal(l.instance, 'orders-1');
      assert.equal(l.status, 200);
      assert.equal(l.error, '');
      assert.equal(l.bytesIn, 3);
      assert.equal(l.bytesOut, r.body.length);
    }
    assert.equal(out.traceparent, inb.traceparent);
    assert.equal(out.path, 'http://orders/hello', 'the request target as the app sent it');
    assert.equal(inb.path, '/hello');
  });

  test('an unknown service is logged with its x-weft-error; /metrics counts no dropped line', async () => {
    const r = await viaProxy(a.outboundPort, 'http://nosuch/x', { headers: { 'x-request-id': 'e2e-2' } });
    const l = await waitFor('the line', () => lines(file).find((x) => x.requestId === 'e2e-2'));
    assert.equal(l.status, r.status);
    assert.equal(l.error, r.headers['x-weft-error']);
    assert.notEqual(l.error, '');
    const metrics = (await send({ port: a.adminPort, path: '/metrics' })).body.toString();
    assert.match(metrics, /^weft_access_log_dropped_total 0$/m);
  });

  test('SIGHUP reopens the file (logrotate)', async () => {
    renameSync(file, `${file}.1`);
    process.kill(a.pid, 'SIGHUP');
    // Lines may land in the old file until the agent has reopened it.
    await waitFor('lines in the new file', async () => {
      await viaProxy(a.outboundPort, 'http://orders/after-rotate');
      return lines(file).some((l) => l.path === 'http://orders/after-rotate');
    });
    assert.ok(lines(`${file}.1`).some((l) => l.requestId === 'e2e-1'));
    assert.equal(a.child.exitCode, null, 'the agent still runs');
  });
});

test('weft agent refuses to start when the access log cannot be opened, naming the flag and the path', async () => {
  const r = await weft(
    'agent',
    '--control-plane',
    '127.0.0.1:1',
    '--data-dir',
    '/nonexistent-weft/agent',
    '--access-log',
    '/nonexistent-weft/access.log',
    '--join-token',
    'weft.join.unused',
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--access-log: cannot open \/nonexistent-weft\/access\.log for appending: .*ENOENT/);
});

test('weft agent refuses a sample rate outside 0..1', async () => {
  const r = await weft('agent', '--access-log', 'stdout', '--access-log-sample', '1.5');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--access-log-sample/);
});
