/**
 * PostgreSQL for tests (this package's and test/'s): whether to run the
 * PostgreSQL tests, and a fresh schema per test.
 *
 * WEFT_TEST_POSTGRES (same meaning as in cluster/postgres-for-tests.ts):
 * - unset: run them when the server at WEFT_TEST_POSTGRES_URL answers, else
 *   skip them with a reason that names the URL (node:test prints it as SKIP);
 * - `required` (CI): a missing server fails the run;
 * - a postgres:// URL: that server, required;
 * - `skip` or `off`: skip them.
 * WEFT_TEST_POSTGRES_URL: default postgres://postgres@127.0.0.1:5432/test.
 *
 * Each test gets its own schema with a random name (tables, sequences and
 * advisory-lock keys are per schema) and drops it at the end.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const SETTING = process.env.WEFT_TEST_POSTGRES?.trim() ?? '';
export const PG_TEST_URL = /^postgres(ql)?:\/\//.test(SETTING)
  ? SETTING
  : process.env.WEFT_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

let probe: Promise<string | false> | undefined;

/**
 * false when the PostgreSQL tests run; else the reason they are skipped.
 * Throws when WEFT_TEST_POSTGRES=required and the server does not answer.
 */
export function postgresSkipReason(): Promise<string | false> {
  probe ??= (async () => {
    const mode = SETTING.startsWith('postgres') ? 'required' : SETTING;
    if (mode === 'off' || mode === 'skip') return `PostgreSQL tests SKIPPED (WEFT_TEST_POSTGRES=${mode})`;
    const client = new pg.Client({ connectionString: PG_TEST_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return false;
    } catch (err) {
      const why = `PostgreSQL tests SKIPPED: no PostgreSQL at ${PG_TEST_URL} (${(err as Error).message}); set WEFT_TEST_POSTGRES=required to make this an error`;
      if (mode === 'required') throw new Error(`WEFT_TEST_POSTGRES=required but ${why.replace('PostgreSQL tests SKIPPED: ', '')}`);
      process.stdout.write(`# ${why}\n`);
      return why;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return probe;
}

/** `base` with the connection's search_path set to `schema`. */
export function urlWithSchema(base: string, schema: string): string {
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

export interface TestSchema {
  schema: string;
  /** Connection URL whose tables live in the fresh schema. */
  url: string;
  /** Runs SQL as the admin (outside the schema unless qualified). */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]>;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

export async function freshSchema(base = PG_TEST_URL): Promise<TestSchema> {
  const schema = `weft_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  return {
    schema,
    url: urlWithSchema(base, schema),
    sql: async (text, params) => (await admin.query(text, params)).rows,
    drop: async () => {
      try {
        await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Refuses (false) or allows new connections, and ends the open ones of the control plane when refusing. */
  allowConnections(allow: boolean): Promise<void>;
  drop(): Promise<void>;
}

/** A whole database of its own (for outage tests: connections to it can be refused without touching others). */
export async function freshDatabase(base = PG_TEST_URL): Promise<TestDatabase> {
  const name = `weft_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  const terminate = () =>
    admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  return {
    name,
    url: u.toString(),
    allowConnections: async (allow) => {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS ${allow}`);
      if (!allow) await terminate();
    },
    drop: async () => {
      try {
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
        await terminate();
        // FORCE: ends connections a control plane may still be opening again (its pool retries).
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
