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
import { REGISTER_BATCH_FUNCTION_V9 } from './pg-register-function-sql.js';

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
  {
    version: 7,
    name: 'register-batch-function',
    // weft_register_batch: a batch made only of registrations in ONE statement
    // (pg-register-function.ts). It takes the registry commit lock, replays the writes in
    // order exactly as the per-write path does (pg-registry-store.ts register/upsertAgent),
    // takes revisions from the sequence, writes service versions and sends the change notice;
    // the statement commits on its own. So the commit lock is held inside the database only,
    // never across a client round trip.
    //
    // writes: [{agent: {agent_id, hostname, address, inbound_port, zone, version},
    //           has_lease, lease, replace_all, instances: [instances row without revision]}
    //          or {op: "set_health", agent_id, instance_id, health}]
    // floor: the highest revision the calling replica reported (a write that changes nothing
    //   reports at least it). notice_channel NULL: no notice. notice_template: the change
    //   notice as encodeNotice writes it for revision 9007199254740991 without services or
    //   agents; the function puts in the revision and the names, or the reload form
    //   ("after") when they would not fit in 7,900 bytes (cluster/change-notice.ts).
    // Returns one JSON object per write, in order:
    //   {"ok": false, "conflict": <index of the instance>, "owner": <agent holding it>}, or
    //   {"ok": true, "revision": n, "services": [each once], "changes": [[service, instance_id, "u"|"d"], ...]}
    //   ("u": the write's instance, "d": removed from that service; "changes" empty when the
    //   write changed nothing, and "revision" is then the batch's revision so far);
    //   set_health: {"ok": false, "not_found": true} when the instance is not the agent's, or
    //   "changes" [[service, instance_id, "h"]] and "row": the instance as it was before.
    // Raises SQLSTATE WFRTE (nothing written) when an agent's address, port or zone changes:
    // its services must be read back, which the per-write path does.
    sql: `
      CREATE FUNCTION weft_register_batch(writes json, floor bigint, notice_channel text, notice_template text)
      RETURNS SETOF json LANGUAGE plpgsql AS $$
      DECLARE
        w json;
        inst json;
        aid text;
        row_agent agents%ROWTYPE;
        old instances%ROWTYPE;
        gone record;
        pos int;
        vs record;
        existed boolean;
        owner text;
        conflict int;
        base bigint;
        counter bigint;
        current_rev bigint;
        rev bigint;
        svc text[];
        changes json[];
        keep text[];
        out json[] := '{}';
        all_services text[] := '{}';
        all_agents text[] := '{}';
        versions jsonb := '{}';
        payload text;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '') || ':weft-registry-commit'));
        -- New statements from here on: each sees every batch committed before the lock was ours.
        SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO base FROM registry_revision;
        counter := base;
        current_rev := greatest(floor, base);
        FOR w IN SELECT value FROM json_array_elements(writes) LOOP
          IF w->>'op' = 'set_health' THEN
            -- As the per-write path's setHealth: the instance must be the agent's; the same health changes nothing.
            aid := w->>'agent_id';
            SELECT * INTO old FROM instances WHERE instance_id = w->>'instance_id';
            IF NOT FOUND OR old.agent_id <> aid THEN
              out := out || json_build_object('ok', false, 'not_found', true);
              CONTINUE;
            END IF;
            IF old.health = w->>'health' THEN
              out := out || json_build_object('ok', true, 'revision', current_rev, 'services', '[]'::json, 'changes', '[]'::json);
              CONTINUE;
            END IF;
            counter := counter + 1;
            rev := counter;
            UPDATE instances SET health = w->>'health', revision = rev WHERE instance_id = old.instance_id;
            current_rev := greatest(current_rev, rev);
            out := out || json_build_object('ok', true, 'revision', rev, 'services', json_build_array(old.service),
              'changes', json_build_array(json_build_array(old.service, old.instance_id, 'h')), 'row', row_to_json(old));
            all_services := all_services || old.service;
            all_agents := all_agents || aid;
            versions := versions || jsonb_build_object(old.service, rev);
            CONTINUE;
          END IF;
          aid := w->'agent'->>'agent_id';
          -- An instance id owned by another agent fails this write alone, before it changes anything.
          -- (Lookups one by one by primary key, here and below: a plan the function caches must
          -- never scan the table, whatever its size.)
          conflict := NULL;
          FOR inst, pos IN SELECT t.v, (t.ord - 1)::int FROM json_array_elements(w->'instances') WITH ORDINALITY AS t(v, ord) LOOP
            SELECT agent_id INTO owner FROM instances WHERE instance_id = inst->>'instance_id';
            IF FOUND AND owner <> aid THEN
              conflict := pos;
              EXIT;
            END IF;
          END LOOP;
          IF conflict IS NOT NULL THEN
            out := out || json_build_object('ok', false, 'conflict', conflict, 'owner', owner);
            CONTINUE;
          END IF;
          rev := NULL;
          svc := '{}';
          changes := '{}';
          SELECT * INTO row_agent FROM agents WHERE agent_id = aid;
          IF NOT FOUND THEN
            counter := counter + 1;
            rev := counter;
            INSERT INTO agents (agent_id, hostname, address, inbound_port, zone, version, lease_expires_at_ms, revision)
              VALUES (aid, w->'agent'->>'hostname', w->'agent'->>'address', (w->'agent'->>'inbound_port')::int,
                w->'agent'->>'zone', w->'agent'->>'version',
                CASE WHEN (w->>'has_lease')::boolean THEN (w->>'lease')::bigint END, rev);
          ELSE
            IF row_agent.address IS DISTINCT FROM w->'agent'->>'address'
              OR row_agent.inbound_port IS DISTINCT FROM (w->'agent'->>'inbound_port')::int
              OR row_agent.zone IS DISTINCT FROM w->'agent'->>'zone' THEN
              RAISE EXCEPTION 'agent % moved: its services must be read back', aid USING ERRCODE = 'WFRTE';
            END IF;
            IF (w->>'has_lease')::boolean AND row_agent.lease_expires_at_ms IS DISTINCT FROM (w->>'lease')::bigint THEN
              UPDATE agents SET lease_expires_at_ms = (w->>'lease')::bigint WHERE agent_id = aid;
            END IF;
            IF row_agent.hostname IS DISTINCT FROM w->'agent'->>'hostname' OR row_agent.version IS DISTINCT FROM w->'agent'->>'version' THEN
              counter := counter + 1;
              rev := counter;
              UPDATE agents SET hostname = w->'agent'->>'hostname', version = w->'agent'->>'version', revision = rev
                WHERE agent_id = aid;
            END IF;
          END IF;
          keep := '{}';
          FOR inst IN SELECT value FROM json_array_elements(w->'instances') LOOP
            keep := keep || (inst->>'instance_id');
            SELECT * INTO old FROM instances WHERE instance_id = inst->>'instance_id';
            existed := FOUND;
            IF existed AND old.service = inst->>'service' AND old.agent_id = aid AND old.address = inst->>'address'
              AND old.port = (inst->>'port')::int AND old.zone = inst->>'zone' AND old.weight = (inst->>'weight')::int
              AND old.tags = inst->>'tags' AND old.metadata = inst->>'metadata' AND old.health = inst->>'health'
              AND old.protocol = inst->>'protocol' THEN
              CONTINUE;
            END IF;
            IF rev IS NULL THEN
              counter := counter + 1;
              rev := counter;
            END IF;
            INSERT INTO instances (instance_id, service, agent_id, address, port, zone, weight, tags, metadata, health, protocol, revision)
              VALUES (inst->>'instance_id', inst->>'service', aid, inst->>'address', (inst->>'port')::int, inst->>'zone',
                (inst->>'weight')::int, inst->>'tags', inst->>'metadata', inst->>'health', inst->>'protocol', rev)
              ON CONFLICT (instance_id) DO UPDATE SET service = excluded.service, agent_id = excluded.agent_id,
                address = excluded.address, port = excluded.port, zone = excluded.zone, weight = excluded.weight,
                tags = excluded.tags, metadata = excluded.metadata, health = excluded.health, protocol = excluded.protocol,
                revision = excluded.revision;
            IF existed THEN
              svc := svc || old.service;
              IF old.service <> inst->>'service' THEN
                changes := changes || json_build_array(old.service, old.instance_id, 'd');
              END IF;
            END IF;
            svc := svc || (inst->>'service');
            changes := changes || json_build_array(inst->>'service', inst->>'instance_id', 'u');
          END LOOP;
          IF (w->>'replace_all')::boolean THEN
            FOR gone IN DELETE FROM instances WHERE agent_id = aid AND NOT (instance_id = ANY(keep))
                RETURNING instance_id, service LOOP
              IF rev IS NULL THEN
                counter := counter + 1;
                rev := counter;
              END IF;
              svc := svc || gone.service;
              changes := changes || json_build_array(gone.service, gone.instance_id, 'd');
            END LOOP;
          END IF;
          IF rev IS NULL THEN
            out := out || json_build_object('ok', true, 'revision', current_rev, 'services', '[]'::json, 'changes', '[]'::json);
            CONTINUE;
          END IF;
          current_rev := greatest(current_rev, rev);
          svc := ARRAY(SELECT DISTINCT s FROM unnest(svc) AS s);
          out := out || json_build_object('ok', true, 'revision', rev, 'services', to_json(svc), 'changes', to_json(changes));
          all_services := all_services || svc;
          all_agents := all_agents || aid;
          SELECT versions || coalesce(jsonb_object_agg(s, rev), '{}') INTO versions FROM unnest(svc) AS s;
        END LOOP;
        IF counter > base THEN
          PERFORM setval('registry_revision', counter, true);
          -- service_versions: a service with instances gets its last revision, one without loses its row.
          FOR vs IN SELECT key AS service, value::text::bigint AS revision FROM jsonb_each(versions) LOOP
            IF EXISTS (SELECT 1 FROM instances WHERE service = vs.service) THEN
              INSERT INTO service_versions (service, revision) VALUES (vs.service, vs.revision)
                ON CONFLICT (service) DO UPDATE SET revision = excluded.revision;
            ELSE
              DELETE FROM service_versions WHERE service = vs.service;
            END IF;
          END LOOP;
          IF notice_channel IS NOT NULL THEN
            all_services := ARRAY(SELECT DISTINCT s FROM unnest(all_services) AS s);
            all_agents := ARRAY(SELECT DISTINCT a FROM unnest(all_agents) AS a);
            payload := replace(notice_template, '"rev":9007199254740991}', '"rev":' || current_rev
              || CASE WHEN cardinality(all_services) > 0 THEN ',"s":' || to_json(all_services)::text ELSE '' END
              || CASE WHEN cardinality(all_agents) > 0 THEN ',"a":' || to_json(all_agents)::text ELSE '' END || '}');
            IF octet_length(payload) > 7900 THEN
              payload := replace(notice_template, '"rev":9007199254740991}',
                '"rev":' || current_rev || ',"after":' || (current_rev - 1) || '}');
            END IF;
            PERFORM pg_notify(notice_channel, payload);
          END IF;
        END IF;
        RETURN QUERY SELECT unnest(out);
      END
      $$;
    `,
  },
  {
    version: 8,
    name: 'instances-by-service-revision',
    // A replica's catch-up read of a service it holds up to revision H reads the rows written
    // after H (a range of this index) and counts the rest (pg-registry-store.ts
    // agentsAndInstances); the index replaces instances_by_service, whose lookups it serves too.
    sql: `
      CREATE INDEX instances_by_service_revision ON instances (service, revision);
      DROP INDEX instances_by_service;
    `,
  },
  {
    version: 9,
    name: 'service-instance-count',
    // service_versions carries each service's number of instances, kept by every registry write
    // in the same transaction (weft_register_batch version 9 and pg-register-batch.ts
    // serviceVersionsSql), so a replica's catch-up read takes it from the row instead of counting
    // the service's instances at every read. weft_register_batch is replaced by version 9
    // (pg-register-function-sql.ts: jsonb, and the counts).
    sql: `
      ALTER TABLE service_versions ADD COLUMN instance_count BIGINT;
      UPDATE service_versions sv SET instance_count = (SELECT count(*) FROM instances i WHERE i.service = sv.service);
      DELETE FROM service_versions WHERE instance_count = 0;
      ALTER TABLE service_versions ALTER COLUMN instance_count SET NOT NULL;
      ${REGISTER_BATCH_FUNCTION_V9}
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
