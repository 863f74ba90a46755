/**
 * Which PostgreSQL the cluster tests use, and whether they run at all (tests
 * only). The same settings as the store's tests:
 *
 * WEFT_TEST_POSTGRES:
 * - unset: run them when the server at WEFT_TEST_POSTGRES_URL answers, else
 *   skip them with a printed reason naming the server;
 * - `required` (CI, .ci/run): a missing server fails the run;
 * - `off`: skip them.
 * WEFT_TEST_POSTGRES_URL: default postgres://postgres@127.0.0.1:5432/test.
 */
import pg from 'pg';
import { describeConnection } from './pg-session.js';

export const LOCAL_TEST_POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';

export type TestPostgres = { url: string; skip?: undefined } | { url?: undefined; skip: string };

export async function postgresForTests(): Promise<TestPostgres> {
  const mode = process.env.WEFT_TEST_POSTGRES?.trim() ?? '';
  if (mode === 'off') return skipped('WEFT_TEST_POSTGRES=off');
  const url = process.env.WEFT_TEST_POSTGRES_URL || LOCAL_TEST_POSTGRES;
  const problem = await probe(url);
  if (problem === undefined) return { url };
  if (mode === 'required')
    throw new Error(`WEFT_TEST_POSTGRES=required but PostgreSQL at ${describeConnection(url)} does not answer: ${problem}`);
  return skipped(`no PostgreSQL at ${describeConnection(url)} (${problem}); set WEFT_TEST_POSTGRES=required to make this a failure`);
}

function skipped(reason: string): TestPostgres {
  const skip = `PostgreSQL tests SKIPPED: ${reason}`;
  process.stdout.write(`# ${skip}\n`);
  return { skip };
}

async function probe(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => {});
  }
}
