/**
 * The PostgreSQL backend of the store contract: one pool per process, the
 * schema migrated at open (one replica at a time, see pg-migrations.ts), and
 * the three stores on that pool. Several control-plane replicas may open the
 * same database (and schema) at once.
 *
 * The schema is the first entry of the connection's search_path (default
 * "public"); a URL may choose another one with the libpq `options`
 * parameter: postgres://host/db?options=-c%20search_path%3Dweft
 */
import type { Logger } from '@weft/shared';
import type { ControlPlaneStore } from '../store-contract.js';
import { PgDatabase } from './pg-database.js';
import { migratePostgres } from './pg-migrations.js';
import { PgPolicyStore } from './pg-policy-store.js';
import { PgRegistryStore } from './pg-registry-store.js';
import { pgTrustStore } from './pg-trust-store.js';

export interface PostgresStore extends ControlPlaneStore {
  readonly kind: 'postgres';
  readonly db: PgDatabase;
  /** Migration versions this process applied when it opened the store (empty when another replica had). */
  readonly migrationsApplied: readonly number[];
}

export async function openPostgresStore(url: string, log: Logger): Promise<PostgresStore> {
  const db = new PgDatabase(url, log);
  try {
    const migrationsApplied = await migratePostgres(db, log);
    return {
      kind: 'postgres',
      location: db.location,
      db,
      migrationsApplied,
      registry: new PgRegistryStore(db),
      policy: new PgPolicyStore(db),
      trust: pgTrustStore(db),
      close: () => db.close(),
    };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}
