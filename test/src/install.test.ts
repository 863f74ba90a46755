/**
 * The installable package (scripts/pack.mjs, `npm run pack`): the one tarball
 * installs globally into a scratch prefix, and the `weft` it puts on PATH runs a
 * control plane and an agent that enrols with a join token and becomes ready,
 * without the checkout's node_modules. Installing compiles better-sqlite3 from
 * source (about 75 s on the 2-core CI machine; the registry is reached through
 * npm's cache when it can be), so each step has a time limit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnNode, type WeftProcess } from '@weft/cli/demo/weft-process';
import { getJson, waitFor } from './harness.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const INSTALL_TIMEOUT_MS = 6 * 60_000;

function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, ...opts.env }, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr: err?.killed ? `${stderr}\n(killed after ${opts.timeoutMs} ms)` : stderr });
      },
    );
  });
}

const dir = mkdtempSync(join(tmpdir(), 'weft-install-'));
const procs: WeftProcess[] = [];
after(async () => {
  for (const p of procs.reverse()) await p.stop('SIGTERM', 5_000);
  rmSync(dir, { recursive: true, force: true });
});

test('npm run pack makes one tarball; installed globally, its weft runs a control plane and an enrolled agent', {
  timeout: INSTALL_TIMEOUT_MS + 120_000,
}, async () => {
  const pack = await run(process.execPath, [join(ROOT, 'scripts/pack.mjs'), '--out', dir], { timeoutMs: 60_000 });
  assert.equal(pack.code, 0, pack.stderr);
  const tarballs = readdirSync(dir).filter((f) => /^weft-.*\.tgz$/.test(f));
  assert.equal(tarballs.length, 1, `tarballs: ${tarballs.join(', ')}`);
  const tgz = join(dir, tarballs[0]!);

  const prefix = join(dir, 'prefix');
  // A private cache seeded from the user's would not help (better-sqlite3's build is not cached); the
  // user's cache with --prefer-offline avoids registry round trips for what it already holds.
  const install = await run(
    'npm',
    ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--allow-scripts=better-sqlite3,protobufjs', tgz],
    { cwd: dir, timeoutMs: INSTALL_TIMEOUT_MS },
  );
  assert.equal(install.code, 0, `${install.stdout}\n${install.stderr}`);
  const weft = join(prefix, 'bin', 'weft');

  const version = await run(weft, ['--version'], { cwd: dir, timeoutMs: 30_000 });
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);

  // Run from the scratch dir with a PATH and NODE_PATH that cannot reach the checkout.
  const env = { NODE_PATH: '', WEFT_CONTROL_PLANE_DATA_DIR: join(dir, 'cp') };
  const cp = await spawnNode(
    weft,
    ['control-plane', '--data-dir', join(dir, 'cp'), '--host', '127.0.0.1', '--grpc-port', '0', '--http-port', '0'],
    { env, readyTimeoutMs: 30_000 },
  );
  procs.push(cp);
  const grpc = `127.0.0.1:${Number(cp.ready.grpcPort)}`;

  const token = await run(weft, ['token', 'create', '--agent-id', 'installed', '--control-plane', grpc], {
    cwd: dir,
    timeoutMs: 30_000,
    env,
  });
  assert.equal(token.code, 0, token.stderr);
  const joinToken = token.stdout.trim();
  assert.match(joinToken, /^weft\.join\./);

  const agent = await spawnNode(
    weft,
    [
      'agent',
      '--control-plane',
      grpc,
      '--agent-id',
      'installed',
      '--data-dir',
      join(dir, 'agent'),
      '--advertise-address',
      '127.0.0.1',
      '--admin-port',
      '0',
      '--outbound-port',
      '0',
      '--inbound-port',
      '0',
      '--join-token',
      joinToken,
    ],
    { env, readyTimeoutMs: 30_000 },
  );
  procs.push(agent);
  const ready = await waitFor('installed agent ready', async () => {
    const r = await getJson<{ ready?: boolean; connected?: boolean }>(Number(agent.ready.adminPort), '/ready').catch(() => undefined);
    return r?.connected === true ? r : undefined;
  });
  assert.equal(ready.connected, true);
  assert.ok(agent.ready.spiffeId, 'the installed agent enrolled (it has a SPIFFE id)');

  assert.equal(await agent.stop('SIGTERM', 10_000), 0);
  assert.equal(await cp.stop('SIGTERM', 10_000), 0);
});
