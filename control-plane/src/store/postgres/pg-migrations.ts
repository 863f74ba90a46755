/**
 * Schema migrations for PostgreSQL, numbered like the SQLite ones
 * (store/migrations.ts) so one version number means the same schema on both
 * backends: the first PostgreSQL migration is a baseline equal to SQLite
 * migrations 1-6. To change the schema, append migration N to BOTH lists
 * (same number, same name) — `weft control-plane migrate` refuses to copy
 * between different versions.
 *
 * Safe when several replicas start at once: the whole run holds a session
 * advisory lock (per schema), so one replica applies the pending migrations
 * and the others, once they get the lock, find nothing left to do. Each
 * migration commits together with its schema_migrations row.
 *
 * Revisions are sequences (registry_revision, config_revision,
 * trust_revision): each replica takes the next value from the database, never
 * from a counter in its memory.
 */
import type { Logger } from '@weft/shared';
import type { Migration } from '../migrations.js';
import type { PgDatabase } from './pg-database.js';

export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 6,
    name: 'baseline (SQLite migrations 1-6)',
    sql: `
      CREATE SEQUENCE registry_revision;
      CREATE SEQUENCE config_revision;
      CREATE SEQUENCE trust_revision;

      -- lease_expires_at_ms: bookkeeping for operators; live leases are in memory.
      CREATE TABLE agents (
        agent_id            TEXT PRIMARY KEY,
        hostname            TEXT NOT NULL,
        address             TEXT NOT NULL,
        inbound_port        INTEGER NOT NULL CHECK (inbound_port BETWEEN 1 AND 65535),
        zone                TEXT NOT NULL,
        version             TEXT NOT NULL,
        lease_expires_at_ms BIGINT,
        revision            BIGINT NOT NULL
      );

      CREATE TABLE instances (
        instance_id TEXT PRIMARY KEY,
        service     TEXT NOT NULL,
        agent_id    TEXT NOT NULL REFERENCES agents (agent_id),
        address     TEXT NOT NULL,
        port        INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        zone        TEXT NOT NULL,
        weight      INTEGER NOT NULL CHECK (weight >= 1),
        tags        TEXT NOT NULL,      -- JSON array of strings
        metadata    TEXT NOT NULL,      -- JSON object of strings
        health      TEXT NOT NULL CHECK (health IN ('passing', 'warning', 'critical', 'unknown')),
        revision    BIGINT NOT NULL,
        protocol    TEXT NOT NULL DEFAULT 'http'
      );
      CREATE INDEX instances_by_service ON instances (service);
      CREATE INDEX instances_by_agent ON instances (agent_id);

      -- The revision at which each service last changed (its resource version); no row = no instances.
      CREATE TABLE service_versions (
        service  TEXT PRIMARY KEY,
        revision BIGINT NOT NULL
      );

      CREATE TABLE policy (
        service  TEXT NOT NULL,
        kind     TEXT NOT NULL,
        json     TEXT NOT NULL,
        revision BIGINT NOT NULL,
        PRIMARY KEY (service, kind)
      );
      CREATE TABLE policy_revisions (
        revision    BIGINT PRIMARY KEY,
        applied_at  TEXT NOT NULL,
        description TEXT NOT NULL
      );
      CREATE TABLE policy_history (
        revision    BIGINT NOT NULL REFERENCES policy_revisions (revision),
        service     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        json        TEXT,
        before_json TEXT,
        PRIMARY KEY (revision, service, kind)
      );

      CREATE TABLE tokens (
        token_id      TEXT PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('join', 'operator', 'read')),
        secret_sha256 TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        expires_at_ms BIGINT,
        uses_left     INTEGER,
        agent_id      TEXT,
        description   TEXT NOT NULL
      );
      CREATE TABLE agent_certificates (
        serial        TEXT PRIMARY KEY,
        agent_id      TEXT NOT NULL,
        issued_at_ms  BIGINT NOT NULL,
        expires_at_ms BIGINT NOT NULL
      );
      CREATE INDEX agent_certificates_by_agent ON agent_certificates (agent_id, issued_at_ms);
      CREATE TABLE revoked_agents (
        agent_id      TEXT PRIMARY KEY,
        revoked_at_ms BIGINT NOT NULL,
        reason        TEXT NOT NULL
      );
    `,
  },
];

/** The newest schema version the PostgreSQL migrations reach. */
export const PG_SCHEMA_VERSION = Math.max(...PG_MIGRATIONS.map((m) => m.version));

const MIGRATION_LOCK = "hashtext(coalesce(current_schema(), '') || ':weft-migrations')";

/**
 * Applies every migration newer than the schema's version, holding the
 * migration lock. Returns the versions this call applied (empty when another
 * replica had done it).
 */
export async function migratePostgres(db: PgDatabase, log: Logger, migrations = PG_MIGRATIONS): Promise<number[]> {
  const client = await db.connect();
  const applied: number[] = [];
  let broken: Error | undefined;
  try {
    const schema = (await client.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0].s;
    if (!schema) throw new Error(`PostgreSQL ${db.location}: no schema to create tables in (check search_path)`);
    await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at TEXT NOT NULL
      )`);
      const current = (await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')).rows[0].v ?? 0;
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (m.version <= current) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            new Date().toISOString(),
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
        applied.push(m.version);
        log.info('schema migration applied', { database: db.location, version: m.version, name: m.name });
      }
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).catch((err: Error) => (broken = err));
    }
    return applied;
  } catch (err) {
    broken ??= err as Error;
    throw db.wrap(err);
  } finally {
    client.release(broken);
  }
}
