/**
 * `weft control-plane migrate --to postgres://…`: copies a SQLite mesh (the
 * file in a stopped control plane's data dir) into an empty PostgreSQL schema.
 *
 * Contract:
 * - Both sides must be at the same schema version (the numbered migrations
 *   of store/migrations.ts and postgres/pg-migrations.ts); else it refuses
 *   and names both versions.
 * - The target must hold no mesh yet (no rows, sequences unused); a copy
 *   never merges into or overwrites another mesh.
 * - Everything is copied in ONE PostgreSQL transaction, and the revision
 *   sequences are set to the SQLite counters, so versions agents hold stay
 *   valid and are never reissued: either the whole mesh is there, or nothing.
 */
import type { Logger } from '@weft/shared';
import { ValidationError } from '@weft/shared';
import Database from 'better-sqlite3';
import { openPostgresStore } from './postgres/pg-backend.js';
import { PG_SCHEMA_VERSION } from './postgres/pg-migrations.js';

/** Tables copied, parents before children (foreign keys). */
const TABLES = [
  'agents',
  'instances',
  'service_versions',
  'policy',
  'policy_revisions',
  'policy_history',
  'tokens',
  'agent_certificates',
  'revoked_agents',
] as const;

/** meta key in SQLite -> sequence in PostgreSQL. */
const COUNTERS = { revision: 'registry_revision', config_revision: 'config_revision', trust_revision: 'trust_revision' } as const;

export interface CopySummary {
  schemaVersion: number;
  rows: Record<string, number>;
  revisions: Record<string, number>;
}

const CHUNK = 500;

export async function copySqliteToPostgres(sqliteFile: string, url: string, log: Logger): Promise<CopySummary> {
  const src = new Database(sqliteFile, { readonly: true, fileMustExist: true });
  try {
    const version = (src.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
    if (version !== PG_SCHEMA_VERSION)
      throw new ValidationError(
        'data-dir',
        `the SQLite database is at schema version ${version}, this build's PostgreSQL schema is at ${PG_SCHEMA_VERSION}: start and stop the control plane of this build on the data dir first`,
      );
    const store = await openPostgresStore(url, log);
    try {
      return await store.db.transaction(async (c) => {
        for (const table of TABLES) {
          const { rows } = await c.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM ${table}`);
          if (rows[0].n > 0) throw new ValidationError('to', `${store.location} already holds a mesh (table ${table} has rows)`);
        }
        const summary: CopySummary = { schemaVersion: version, rows: {}, revisions: {} };
        // One snapshot of the source for every table.
        const read = src.transaction(() => TABLES.map((t) => src.prepare(`SELECT * FROM ${t}`).all() as Record<string, unknown>[]));
        const data = read();
        // PostgreSQL's service_versions also carries each service's number of instances (schema migration 9).
        const perService = new Map<unknown, number>();
        for (const row of data[TABLES.indexOf('instances')]) perService.set(row.service, (perService.get(row.service) ?? 0) + 1);
        for (const row of data[TABLES.indexOf('service_versions')]) row.instance_count = perService.get(row.service) ?? 0;
        for (const [i, table] of TABLES.entries()) {
          const rows = data[i];
          summary.rows[table] = rows.length;
          for (let at = 0; at < rows.length; at += CHUNK) {
            const chunk = rows.slice(at, at + CHUNK);
            const columns = Object.keys(chunk[0]);
            const params: unknown[] = [];
            const tuples = chunk.map((row) => `(${columns.map((col) => `$${params.push(row[col])}`).join(', ')})`);
            await c.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, params);
          }
        }
        const meta = new Map(
          (src.prepare('SELECT key, value FROM meta').all() as { key: string; value: number }[]).map((r) => [r.key, r.value]),
        );
        for (const [key, sequence] of Object.entries(COUNTERS)) {
          const value = meta.get(key) ?? 0;
          summary.revisions[key] = value;
          // setval(seq, v, is_called): with is_called false and v = 1 the sequence still hands out 1 first.
          await c.query('SELECT setval($1::regclass, $2, $3)', [sequence, Math.max(value, 1), value > 0]);
        }
        log.info('SQLite mesh copied to PostgreSQL', { from: sqliteFile, to: store.location, ...summary.revisions });
        return summary;
      });
    } finally {
      await store.close();
    }
  } finally {
    src.close();
  }
}
