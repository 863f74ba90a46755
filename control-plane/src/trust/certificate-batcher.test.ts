/**
 * CertificateBatcher on a real SQLite store: concurrent records share one
 * commit, a token is never used more than allowed, and a caller is answered
 * only after the commit (a failed commit answers no one with success).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStore } from '../store/sqlite-backend.js';
import { tempDir } from '../test-support.js';
import { CertificateBatcher } from './certificate-batcher.js';

const cert = (n: number) => ({ agentId: `ag${n}`, serial: `s${n}`, issuedAtMs: 10, expiresAtMs: 1000 });

test('concurrent records share one commit; a 30-use token records exactly 30 of 50 enrolments', async () => {
  const dir = tempDir();
  const store = openSqliteStore(join(dir.path, 'cp.db'));
  try {
    await store.trust.insertToken({
      tokenId: 't30',
      kind: 'join',
      secretSha256: 'ab',
      createdAtMs: 1,
      expiresAtMs: null,
      usesLeft: 30,
      agentId: null,
      description: '',
    });
    const batches: number[] = [];
    const b = new CertificateBatcher(store.trust, 1000, (size) => batches.push(size));
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => b.record({ cert: cert(i), useTokenId: 't30' })));
    assert.deepEqual(batches, [50]);
    assert.equal(outcomes.filter((o) => o === 'recorded').length, 30);
    assert.equal(outcomes.filter((o) => o === 'token-used-up').length, 20);
    assert.equal((await store.trust.token('t30'))?.usesLeft, 0);
    assert.equal((await store.trust.latestCertificates()).size, 30);

    // maxBatch bounds a transaction: 5 writes with maxBatch 2 take three commits.
    const small: number[] = [];
    const b2 = new CertificateBatcher(store.trust, 2, (size) => small.push(size));
    await Promise.all([100, 101, 102, 103, 104].map((n) => b2.record({ cert: cert(n) })));
    assert.deepEqual(small, [2, 2, 1]);
  } finally {
    await store.close();
    dir.remove();
  }
});

test('a commit that fails rejects every write of its batch', async () => {
  const dir = tempDir();
  const store = openSqliteStore(join(dir.path, 'cp.db'));
  try {
    const b = new CertificateBatcher(store.trust);
    await store.close();
    const results = await Promise.allSettled([b.record({ cert: cert(1) }), b.record({ cert: cert(2) })]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
  } finally {
    dir.remove();
  }
});
