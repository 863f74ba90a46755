/**
 * Backup and restore of an embedded (SQLite) control plane's data dir.
 *
 * backup: SQLite's online backup API (better-sqlite3 `db.backup`) from a
 * read-only connection, so it runs while the control plane serves (WAL
 * readers never block its writer) and copies a consistent snapshot, committed
 * transactions only. The copy is checked before it is reported done.
 *
 * restore: only with the control plane stopped (it takes the data dir's lock,
 * so a running one makes it fail, naming the process). The file is checked
 * first (an SQLite database with Weft's schema, passing integrity_check),
 * copied beside the live file, fsynced, and renamed over it, with the old
 * WAL and shared-memory files removed: a crash leaves the old database or
 * the new one, never a mix. Revisions come back as they were in the backup;
 * agents that hold newer versions get the restored state on their next
 * stream (versions are compared for equality, never ordered).
 */
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { lockDataDir } from './data-dir-lock.js';

export interface DatabaseSummary {
  /** Schema version (the last migration applied). */
  schema: number;
  /** The global registry revision. */
  revision: number;
  instances: number;
  policyDocuments: number;
}

/** Checks `file` is a sound Weft control-plane database and summarises it; throws a readable error otherwise. */
export function inspectDatabase(file: string): DatabaseSummary {
  if (!existsSync(file)) throw new Error(`${file}: no such file`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Error(`${file}: not an SQLite database (${(err as Error).message})`);
  }
  try {
    const check = db.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new Error(`${file}: integrity check failed: ${String(check)}`);
    const has = (table: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
    for (const table of ['schema_migrations', 'meta', 'instances']) {
      if (!has(table)) throw new Error(`${file}: not a Weft control-plane database (no ${table} table)`);
    }
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    return {
      schema: count('SELECT COALESCE(MAX(version), 0) AS n FROM schema_migrations'),
      revision: count("SELECT CAST(value AS INTEGER) AS n FROM meta WHERE key = 'revision'"),
      instances: count('SELECT COUNT(*) AS n FROM instances'),
      policyDocuments: has('policy') ? count('SELECT COUNT(*) AS n FROM policy') : 0,
    };
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(file)) throw err;
    throw new Error(`${file}: not a Weft control-plane database (${(err as Error).message})`);
  } finally {
    db.close();
  }
}

/** Copies the live database `dbFile` to `dest` (online); returns what the copy holds. */
export async function backupDatabase(dbFile: string, dest: string): Promise<DatabaseSummary> {
  if (!existsSync(dbFile)) throw new Error(`${dbFile}: no control-plane database here (check --data-dir)`);
  if (existsSync(dest)) throw new Error(`${dest}: already exists; choose a new file`);
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    await db.backup(dest);
  } finally {
    db.close();
  }
  return inspectDatabase(dest);
}

/** Replaces the database of `dataDir` (control plane stopped) with `src`; returns what it now holds. */
export function restoreDatabase(dataDir: string, dbFileName: string, src: string): DatabaseSummary {
  const summary = inspectDatabase(src);
  mkdirSync(dataDir, { recursive: true });
  const lock = lockDataDir(dataDir);
  try {
    const live = join(dataDir, dbFileName);
    const tmp = `${live}.restoring`;
    copyFileSync(src, tmp);
    const fd = openSync(tmp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    rmSync(`${live}-wal`, { force: true });
    rmSync(`${live}-shm`, { force: true });
    renameSync(tmp, live);
    const dir = openSync(dataDir, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return summary;
  } finally {
    lock.release();
  }
}
