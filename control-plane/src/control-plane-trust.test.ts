import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { silentLogger } from '@weft/shared';
import { BOOTSTRAP_TOKEN_FILE, startControlPlane } from './control-plane.js';
import { tempDir } from './test-support.js';

/** A non-loopback address of this host, if it has one. */
function externalAddress(): string | undefined {
  for (const addrs of Object.values(os.networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

test('first start writes a 0600 bootstrap operator token; the HTTP API needs a token from other hosts only', async () => {
  const dir = tempDir();
  const cp = await startControlPlane({
    dataDir: dir.path,
    host: '0.0.0.0',
    grpcPort: 0,
    httpPort: 0,
    leaseTtlMs: 60_000,
    restartGraceMs: 60_000,
    logger: silentLogger,
  });
  after(async () => {
    await cp.close();
    dir.remove();
  });
  assert.equal(cp.bootstrapTokenFile, join(dir.path, BOOTSTRAP_TOKEN_FILE));
  assert.equal(statSync(cp.bootstrapTokenFile).mode & 0o777, 0o600);
  const token = readFileSync(cp.bootstrapTokenFile, 'utf8').trim();
  assert.match(token, new RegExp(`^weft\\.operator\\.[0-9a-f]{16}\\.[A-Za-z0-9_-]{43}\\.${cp.caFingerprint}$`));

  assert.equal((await fetch(`http://127.0.0.1:${cp.httpPort}/v1/agents`)).status, 200, 'loopback reads are open');
  const ext = externalAddress();
  if (!ext) return; // no other interface to call from
  const url = `http://${ext}:${cp.httpPort}`;
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const refused = await fetch(`${url}/v1/services`);
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('x-weft-error'), 'unauthenticated');
  assert.equal((await fetch(`${url}/v1/services`, { headers: { authorization: 'Bearer nope' } })).status, 401);
  assert.equal((await fetch(`${url}/v1/services`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
});
