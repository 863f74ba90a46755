/**
 * The pool's contract when the server drops a connection that is in use:
 * the running statement fails as UnavailableError naming the database, the
 * process does not end (pg emits 'error' on the connection, which pg-pool
 * listens for only while the connection is idle), and the next call gets a
 * fresh connection. Real PostgreSQL; skipped with the reason when none answers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger, UnavailableError } from '@weft/shared';
import { freshDatabase, postgresSkipReason } from '../../pg-test-support.js';
import { PgDatabase } from './pg-database.js';

const skip = await postgresSkipReason();

describe('PgDatabase', { skip }, () => {
  test('a connection terminated between two statements of a transaction fails that transaction only; the process lives on', async () => {
    const fresh = await freshDatabase();
    const db = new PgDatabase(fresh.url, silentLogger);
    const admin = new PgDatabase(fresh.url.replace(/\/[^/?]*(\?|$)/, '/postgres$1'), silentLogger);
    try {
      // The server ends the backend while the connection is checked out and idle between two statements (the
      // register batch computes in memory between its reads and writes): pg then emits 'error' on the connection
      // with no query to fail, which ends the process unless the connection has a listener.
      const outcome = db
        .transaction(async (c) => {
          const [{ pid }] = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
          const [{ ok }] = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
          assert.equal(ok, true, 'the backend was ended');
          await new Promise((r) => setTimeout(r, 300));
          await c.query('SELECT 2');
          return 'committed';
        })
        .catch((err: unknown) => err);
      const err = await outcome;
      assert.ok(err instanceof UnavailableError, `expected UnavailableError, got ${String(err)}`);
      assert.match(err.message, new RegExp(fresh.name));
      assert.deepEqual(await db.query<{ n: number }>('SELECT 1 AS n'), [{ n: 1 }], 'the next call gets a fresh connection');
    } finally {
      await admin.close();
      await db.close();
      await fresh.drop();
    }
  });
});
