import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BOOTSTRAP_TOKEN_FILE } from './control-plane.js';
import { nonLoopbackAddress, startOnAllInterfaces, tempDir } from './test-support.js';

test('first start writes a 0600 bootstrap operator token; HTTP reads need a token, from this host too, but /healthz', async () => {
  const dir = tempDir();
  const cp = await startOnAllInterfaces(dir.path);
  after(async () => {
    await cp.close();
    dir.remove();
  });
  assert.equal(cp.bootstrapTokenFile, join(dir.path, BOOTSTRAP_TOKEN_FILE));
  assert.equal(statSync(cp.bootstrapTokenFile).mode & 0o777, 0o600);
  const token = readFileSync(cp.bootstrapTokenFile, 'utf8').trim();
  assert.match(token, new RegExp(`^weft\\.operator\\.[0-9a-f]{16}\\.[A-Za-z0-9_-]{43}\\.${cp.caFingerprint}$`));

  const local = `http://127.0.0.1:${cp.httpPort}`;
  assert.equal((await fetch(`${local}/healthz`)).status, 200);
  const localRefused = await fetch(`${local}/v1/agents`);
  assert.equal(localRefused.status, 401, 'a loopback read without a token is refused');
  assert.equal(localRefused.headers.get('x-weft-error'), 'unauthenticated');
  assert.equal((await fetch(`${local}/v1/agents`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  const ext = nonLoopbackAddress();
  if (!ext) return; // no other interface to call from
  const url = `http://${ext}:${cp.httpPort}`;
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const refused = await fetch(`${url}/v1/services`);
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('x-weft-error'), 'unauthenticated');
  assert.equal((await fetch(`${url}/v1/services`, { headers: { authorization: 'Bearer nope' } })).status, 401);
  assert.equal((await fetch(`${url}/v1/services`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
});

test('--loopback-reads open: reads from this host need no token, reads from other hosts still do', async () => {
  const dir = tempDir();
  const cp = await startOnAllInterfaces(dir.path, { loopbackReads: 'open' });
  after(async () => {
    await cp.close();
    dir.remove();
  });
  assert.equal((await fetch(`http://127.0.0.1:${cp.httpPort}/v1/agents`)).status, 200);
  const ext = nonLoopbackAddress();
  if (!ext) return;
  assert.equal((await fetch(`http://${ext}:${cp.httpPort}/v1/agents`)).status, 401);
});
