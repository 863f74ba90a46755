import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parseToken } from '@weft/shared';
import { openDatabase } from '../store/database.js';
import { sqliteTrustStore } from '../store/sqlite-backend.js';
import { TrustStore } from '../store/trust-store.js';
import { tempDir } from '../test-support.js';
import { Tokens } from './tokens.js';

/** A trust store in a fresh SQLite file, removed after the test. */
function trustStore() {
  const dir = tempDir();
  const db = openDatabase(`${dir.path}/cp.db`);
  after(() => {
    db.close();
    dir.remove();
  });
  return sqliteTrustStore(TrustStore.on(db));
}

function tokens(now: () => number) {
  return new Tokens(trustStore(), () => 'ab'.repeat(32), now);
}

test('a token carries the CA fingerprint; only the hash of its secret is stored', async () => {
  const t = tokens(Date.now);
  const { token, record } = await t.create({ kind: 'operator', ttlMs: 0 });
  const parsed = parseToken(token, 'token');
  assert.equal(parsed.caFingerprint, 'ab'.repeat(32));
  assert.equal(parsed.kind, 'operator');
  assert.ok(!JSON.stringify(record).includes(parsed.secret));
  assert.equal(t.check(token, ['operator'], 'authorization').tokenId, record.tokenId);
  assert.throws(() => t.check(token, ['read'], 'authorization'), /is a operator token, not read/);
  assert.throws(() => t.check(`${token.slice(0, 30)}x${token.slice(31)}`, ['operator'], 'authorization'), /unknown token|not a Weft token/);
});

test('a join token is refused once expired or used up, naming the token', async () => {
  let now = 1_000_000;
  const t = tokens(() => now);
  const { token } = await t.create({ kind: 'join', ttlMs: 60_000, uses: 2 });
  for (let i = 0; i < 2; i++) await t.use(t.check(token, ['join'], 'join_token'), 'join_token');
  assert.throws(() => t.check(token, ['join'], 'join_token'), /join_token: token [0-9a-f]{16} is used up/);
  const { token: short } = await t.create({ kind: 'join', ttlMs: 1000 });
  now += 1000;
  assert.throws(() => t.check(short, ['join'], 'join_token'), /expired at/);
  await assert.rejects(() => t.create({ kind: 'read', ttlMs: 0, uses: 3 }), /join tokens only/);
});

test('a token made on another replica (in the store, not yet in memory) is checked against the store; a revoked one is refused', async () => {
  // Two Tokens over one store: two replicas of one mesh.
  const store = trustStore();
  const here = new Tokens(store, () => 'ab'.repeat(32));
  const there = new Tokens(store, () => 'ab'.repeat(32));
  await here.refresh();
  const { token, record } = await there.create({ kind: 'read', ttlMs: 0 });
  assert.throws(() => here.check(token, ['read'], 'authorization'), /unknown token/, 'memory alone does not know it yet');
  const fresh = here.checkCachedOrFresh(token, ['read'], 'authorization');
  assert.ok(fresh instanceof Promise, 'a miss reads the store');
  assert.equal((await fresh).tokenId, record.tokenId);
  const cached = here.checkCachedOrFresh(token, ['read'], 'authorization');
  assert.ok(!(cached instanceof Promise), 'then it is in memory');
  // Revoked on the other replica: refused here after the next refresh (the replicas' timer), at once there.
  await there.create({ kind: 'operator', ttlMs: 0 });
  await there.revoke(record.tokenId, 'token_id');
  assert.throws(() => there.check(token, ['read'], 'authorization'), /unknown token .* \(never made here, or revoked\)/);
  await here.refresh();
  await assert.rejects(async () => here.checkCachedOrFresh(token, ['read'], 'authorization'), /unknown token/);
});

test('an id the store did not know is not looked up again for a second', async () => {
  const trust = trustStore();
  let reads = 0;
  const counted = {
    ...trust,
    token: (id: string) => {
      reads++;
      return trust.token(id);
    },
  };
  let now = 1_000_000;
  const here = new Tokens(
    counted,
    () => 'ab'.repeat(32),
    () => now,
  );
  const there = new Tokens(
    trust,
    () => 'ab'.repeat(32),
    () => now,
  );
  const { token: made } = await there.create({ kind: 'read', ttlMs: 0 });
  const madeUp = made
    .split('.')
    .map((part, k) => (k === 2 ? '0'.repeat(16) : part))
    .join('.');
  for (let i = 0; i < 3; i++) await assert.rejects(here.checkFresh(madeUp, ['read'], 'authorization'), /unknown token 0{16}/);
  assert.equal(reads, 1);
  now += 1000;
  await assert.rejects(here.checkFresh(madeUp, ['read'], 'authorization'), /unknown token/);
  assert.equal(reads, 2, 'looked up again after a second');
  assert.equal((await here.checkFresh(made, ['read'], 'authorization')).kind, 'read', 'a real token is still read from the store');
});
