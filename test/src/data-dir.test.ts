/**
 * The embedded store's data dir, as an operator meets it: one control plane
 * per data dir (a second is refused and told who holds it; a lock left by a
 * killed process is taken over), and backup while running / restore while
 * stopped, round-tripping a registered service. Real processes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { echoHandler, getJson, Mesh, registerWith, waitFor } from './harness.js';

function weft(...args: string[]) {
  return spawnSync(process.execPath, [WEFT_BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
}

interface ServicesAnswer {
  services: { name: string; instances: unknown[] }[];
}

describe('the control plane data dir (real processes)', () => {
  const mesh = new Mesh();
  after(() => mesh.close());

  test('a second control plane on the same data dir is refused, naming the process that holds it', async () => {
    const cp = await mesh.controlPlane({ dataDir: join(mesh.dir, 'locked') });
    const second = weft('control-plane', '--data-dir', cp.dataDir, '--grpc-port', '0', '--http-port', '0');
    assert.notEqual(second.status, 0);
    assert.match(second.stderr, /in use by another control plane: pid \d+ on .+ since /);
    assert.match(second.stderr, new RegExp(`pid ${cp.pid}\\b`));
    const answer = await getJson<{ ok?: boolean }>(cp.httpPort, '/healthz');
    assert.ok(answer, 'the first one kept serving');
    await cp.stop('SIGTERM');
    assert.equal(existsSync(join(cp.dataDir, 'control-plane.lock')), false, 'a clean stop releases the lock');
  });

  test('a lock left by a killed control plane is taken over', async () => {
    const dataDir = join(mesh.dir, 'stale');
    const first = await mesh.controlPlane({ dataDir });
    await first.stop('SIGKILL');
    assert.equal(existsSync(join(dataDir, 'control-plane.lock')), true, 'kill -9 leaves the lock behind');
    const second = await mesh.controlPlane({ dataDir });
    assert.ok(second.grpcPort > 0);
    await second.stop('SIGTERM');
  });

  test('backup while running, restore while stopped: the registration comes back', async () => {
    const dataDir = join(mesh.dir, 'live');
    const cp = await mesh.controlPlane({ dataDir, restartGrace: '60s', leaseTtl: '60s' });
    const agent = await mesh.agent('agent-backup', cp.grpcPort);
    const svc = await mesh.service(echoHandler('ledger-1'));
    await registerWith(agent, { name: 'ledger', port: svc.port, id: 'ledger-1' });
    await waitFor('ledger at the control plane', async () => {
      const s = await getJson<ServicesAnswer>(cp.httpPort, '/v1/services');
      return s.services.find((x) => x.name === 'ledger');
    });
    const backup = join(mesh.dir, 'ledger.backup.db');
    const b = weft('control-plane', 'backup', backup, '--data-dir', dataDir);
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout, /1 instance\(s\)/);
    assert.equal(weft('control-plane', 'backup', backup, '--data-dir', dataDir).status, 1, 'never overwrites a file');

    const refused = weft('control-plane', 'restore', backup, '--data-dir', dataDir);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /restore needs the control plane stopped/);
    await agent.stop('SIGKILL');
    await cp.stop('SIGTERM');

    const restoredDir = join(mesh.dir, 'restored');
    const bad = weft('control-plane', 'restore', WEFT_BIN, '--data-dir', restoredDir);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /not a Weft control-plane database|not an SQLite database/);
    const r = weft('control-plane', 'restore', backup, '--data-dir', restoredDir);
    assert.equal(r.status, 0, r.stderr);
    // The tokens are in the database; the operator keeps using the one they hold (reads need a token).
    cpSync(join(dataDir, 'operator.token'), join(restoredDir, 'operator.token'));
    const restored = await mesh.controlPlane({ dataDir: restoredDir, restartGrace: '60s', leaseTtl: '60s' });
    const services = await getJson<ServicesAnswer>(restored.httpPort, '/v1/services');
    assert.equal(services.services.find((x) => x.name === 'ledger')?.instances.length, 1);
  });
});
