/**
 * Opens the control plane's SQLite database: one file, one connection shared by
 * every store (registry and policy). better-sqlite3 is synchronous and every
 * transaction runs to completion within one call, so stores sharing the
 * connection can never interleave inside each other's transactions.
 *
 * WAL with synchronous=FULL: versions handed to agents are revisions, and a
 * committed revision lost on power failure could be reissued for different
 * content; in WAL mode FULL costs one append-only fsync per transaction (and
 * group commit shares it among many writes).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrations.js';

export function openDatabase(file: string): Database.Database {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
