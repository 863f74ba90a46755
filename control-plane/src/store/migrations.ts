/**
 * Schema migrations for the control-plane database, as an ordered list.
 * A migration is never edited once released: change the schema by appending
 * one. Each migration runs in its own transaction together with the row that
 * records it in `schema_migrations`, so a failed migration leaves nothing.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry',
    sql: `
      -- Global key/value state; 'revision' is the global revision every change bumps.
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );
      INSERT INTO meta (key, value) VALUES ('revision', 0);

      -- One row per agent (session lease owner). lease_expires_at_ms is bookkeeping
      -- for operators reading the file: live leases are kept in memory and every
      -- agent gets a fresh grace period when the control plane restarts.
      CREATE TABLE agents (
        agent_id            TEXT PRIMARY KEY,
        hostname            TEXT NOT NULL,
        address             TEXT NOT NULL,
        inbound_port        INTEGER NOT NULL CHECK (inbound_port BETWEEN 1 AND 65535),
        zone                TEXT NOT NULL,
        version             TEXT NOT NULL,
        lease_expires_at_ms INTEGER,
        revision            INTEGER NOT NULL
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
        revision    INTEGER NOT NULL
      );
      CREATE INDEX instances_by_service ON instances (service);
      CREATE INDEX instances_by_agent ON instances (agent_id);

      -- The revision at which each service last changed: its resource version on
      -- the discovery stream. Persisted (not derived from instance rows) so a
      -- version is never reissued for different content after a restart; a
      -- service without instances has no row.
      CREATE TABLE service_versions (
        service  TEXT PRIMARY KEY,
        revision INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'policy',
    sql: `
      -- Traffic policy (control-plane/src/store/policy-store.ts). Its own revision
      -- counter: the version of every "policy/<service>" resource.
      INSERT INTO meta (key, value) VALUES ('config_revision', 0);

      -- What is in force: one validated document per (service, kind).
      CREATE TABLE policy (
        service  TEXT NOT NULL,
        kind     TEXT NOT NULL CHECK (kind IN ('Routes', 'ServicePolicy')),
        json     TEXT NOT NULL,
        revision INTEGER NOT NULL,
        PRIMARY KEY (service, kind)
      );

      -- One row per config revision (one apply / delete / rollback call).
      CREATE TABLE policy_revisions (
        revision    INTEGER PRIMARY KEY,
        applied_at  TEXT NOT NULL,
        description TEXT NOT NULL
      );

      -- Every change of every revision; json NULL = deleted. Enough to rebuild
      -- the state at any revision (rollback) and to print history.
      CREATE TABLE policy_history (
        revision    INTEGER NOT NULL REFERENCES policy_revisions (revision),
        service     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        json        TEXT,
        before_json TEXT,
        PRIMARY KEY (revision, service, kind)
      );
    `,
  },
  {
    version: 3,
    name: 'instance-protocol',
    // What an instance speaks (http, http2, grpc, tcp); rows from before speak HTTP/1.1.
    sql: `ALTER TABLE instances ADD COLUMN protocol TEXT NOT NULL DEFAULT 'http';`,
  },
  {
    version: 4,
    name: 'access-policy',
    sql: `
      -- AccessPolicy joins the kinds of the policy table. SQLite cannot alter a
      -- CHECK constraint, so the table is rebuilt with the same rows.
      CREATE TABLE policy_v3 (
        service  TEXT NOT NULL,
        kind     TEXT NOT NULL CHECK (kind IN ('Routes', 'ServicePolicy', 'AccessPolicy')),
        json     TEXT NOT NULL,
        revision INTEGER NOT NULL,
        PRIMARY KEY (service, kind)
      );
      INSERT INTO policy_v3 (service, kind, json, revision) SELECT service, kind, json, revision FROM policy;
      DROP TABLE policy;
      ALTER TABLE policy_v3 RENAME TO policy;
    `,
  },
  {
    version: 5,
    name: 'trust',
    sql: `
      -- Tokens (control-plane/src/store/trust-store.ts). Only the SHA-256 of the
      -- secret is kept; the token text is printed once when it is made.
      CREATE TABLE tokens (
        token_id      TEXT PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('join', 'operator', 'read')),
        secret_sha256 TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER,          -- NULL = never
        uses_left     INTEGER,          -- join tokens: enrolments left; NULL = unlimited
        agent_id      TEXT,             -- join tokens made for one agent id
        description   TEXT NOT NULL
      );

      -- Every agent certificate issued (enrolment and renewals): the latest one
      -- per agent is shown by weft status; on revocation the unexpired serials
      -- go on the deny list.
      CREATE TABLE agent_certificates (
        serial        TEXT PRIMARY KEY,
        agent_id      TEXT NOT NULL,
        issued_at_ms  INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL
      );
      CREATE INDEX agent_certificates_by_agent ON agent_certificates (agent_id, issued_at_ms);

      CREATE TABLE revoked_agents (
        agent_id      TEXT PRIMARY KEY,
        revoked_at_ms INTEGER NOT NULL,
        reason        TEXT NOT NULL
      );

      -- Version of the "trust/revocations" resource.
      INSERT INTO meta (key, value) VALUES ('trust_revision', 0);
    `,
  },
  {
    version: 6,
    name: 'policy-kinds',
    // More kinds of documents (ExternalService, ...): the kind is checked by the shared
    // validator before anything is stored, so the table no longer lists the kinds.
    sql: `
      CREATE TABLE policy_v6 (
        service  TEXT NOT NULL,
        kind     TEXT NOT NULL,
        json     TEXT NOT NULL,
        revision INTEGER NOT NULL,
        PRIMARY KEY (service, kind)
      );
      INSERT INTO policy_v6 (service, kind, json, revision) SELECT service, kind, json, revision FROM policy;
      DROP TABLE policy;
      ALTER TABLE policy_v6 RENAME TO policy;
    `,
  },
  {
    version: 7,
    name: 'register-batch-function',
    // PostgreSQL only (a server-side function applying a batch of registrations, see
    // postgres/pg-migrations.ts); numbered here too so one version means one schema on both.
    sql: 'SELECT 1;',
  },
  {
    version: 8,
    name: 'instances-by-service-revision',
    // As PostgreSQL's (postgres/pg-migrations.ts, where replicas' catch-up reads use it); the same
    // schema on both, and lookups by service use its prefix.
    sql: `
      CREATE INDEX instances_by_service_revision ON instances (service, revision);
      DROP INDEX instances_by_service;
    `,
  },
  {
    version: 9,
    name: 'service-instance-count',
    // PostgreSQL only (service_versions.instance_count, read by replicas' catch-up reads, see
    // postgres/pg-migrations.ts); numbered here too so one version means one schema on both.
    sql: 'SELECT 1;',
  },
];

/** Applies every migration newer than the database's version; returns the resulting version. */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  let current = row.v ?? 0;
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
    })();
    current = m.version;
  }
  return current;
}
