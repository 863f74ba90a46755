/**
 * Which PostgreSQL the tests use, and whether they run at all (tests only).
 *
 * WEFT_TEST_POSTGRES:
 * - unset: the local server (postgres://postgres@127.0.0.1:5432/test) if it
 *   answers, else the PostgreSQL tests are skipped with a printed reason;
 * - `required` (CI): the local server, and the tests fail when it is missing;
 * - a postgres:// URL: that server, required;
 * - `skip`: skipped.
 */
import pg from 'pg';
import { describeConnection } from './pg-session.js';

export const LOCAL_TEST_POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';

export type TestPostgres = { url: string; skip?: undefined } | { url?: undefined; skip: string };

export async function postgresForTests(): Promise<TestPostgres> {
  const setting = process.env.WEFT_TEST_POSTGRES?.trim() ?? '';
  if (setting === 'skip') return skipped('WEFT_TEST_POSTGRES=skip');
  const required = setting !== '';
  const url = setting.startsWith('postgres://') || setting.startsWith('postgresql://') ? setting : LOCAL_TEST_POSTGRES;
  const problem = await probe(url);
  if (problem === undefined) return { url };
  if (required)
    throw new Error(
      `WEFT_TEST_POSTGRES=${setting.startsWith('postgres') ? '<url>' : setting}: PostgreSQL at ${describeConnection(url)} does not answer: ${problem}`,
    );
  return skipped(`no PostgreSQL at ${describeConnection(url)} (${problem}); set WEFT_TEST_POSTGRES=required to make this a failure`);
}

function skipped(reason: string): TestPostgres {
  const skip = `PostgreSQL tests skipped: ${reason}`;
  process.stdout.write(`${skip}\n`);
  return { skip };
}

async function probe(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
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
