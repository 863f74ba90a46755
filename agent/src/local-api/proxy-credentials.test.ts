/**
 * Local apps' proxy credentials: one secret per registered instance, any of
 * a service's secrets is that service, re-registering rotates, deregistering
 * drops, only hashes are kept (and survive a restart for instances still
 * registered); the outbound side's parsing of Proxy-Authorization.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '@weft/shared';
import { LocalCallers, ProxyAuthError, parseProxyAuthorization } from '../proxy/proxy-auth.js';
import { CREDENTIALS_FILE, ProxyCredentials } from './proxy-credentials.js';

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

describe('proxy credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-proxy-credentials-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("verifies a service by any of its instances' secrets; re-registering rotates; deregistering drops", async () => {
    const c = new ProxyCredentials(dir, silentLogger);
    const one = c.issue('web', 'web-1');
    const two = c.issue('web', 'web-2');
    assert.match(one, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(one, two);
    assert.equal(c.verify('web', one), 'web');
    assert.equal(c.verify('web', two), 'web');
    assert.equal(c.verify('batch', one), undefined, 'a secret names one service');
    assert.equal(c.verify('web', `${one}x`), undefined);
    const rotated = c.issue('web', 'web-1');
    assert.equal(c.verify('web', one), undefined, 'the old secret of a re-registered instance stops working');
    assert.equal(c.verify('web', rotated), 'web');
    c.drop('web-2');
    assert.equal(c.verify('web', two), undefined);
    await c.flush();
    const file = join(dir, CREDENTIALS_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    assert.doesNotMatch(text, new RegExp(rotated), 'no secret on disk, only hashes');

    // A restarted agent knows the credentials of instances still registered, and only those.
    const again = new ProxyCredentials(dir, silentLogger);
    await again.load(new Map([['web-1', 'web']]));
    assert.equal(again.verify('web', rotated), 'web');
    const none = new ProxyCredentials(dir, silentLogger);
    await none.load(new Map());
    assert.equal(none.verify('web', rotated), undefined);
  });

  it('identifies local callers: a credential is its service, none is the agent, a wrong one is an error', () => {
    const c = new ProxyCredentials(dir, silentLogger);
    const secret = c.issue('web', 'web-9');
    const callers = new LocalCallers('example.org', 'host-1', c);
    assert.deepEqual(callers.identify(basic('web', secret)), {
      spiffeId: 'spiffe://example.org/svc/web',
      service: 'web',
      authenticated: true,
    });
    assert.deepEqual(callers.identify(undefined), {
      spiffeId: 'spiffe://example.org/agent/host-1',
      agentId: 'host-1',
      authenticated: true,
    });
    const wrong = callers.identify(basic('web', 'nope'));
    assert.ok(wrong instanceof ProxyAuthError);
    assert.equal(wrong.code, 'proxy_auth_invalid');
    assert.ok(callers.identify('Basic !!!') instanceof ProxyAuthError);
    assert.ok(parseProxyAuthorization(`Basic ${Buffer.from('no-colon').toString('base64')}`) instanceof ProxyAuthError);
    assert.deepEqual(parseProxyAuthorization(basic('web', 'a:b')), { username: 'web', secret: 'a:b' });
  });
});
