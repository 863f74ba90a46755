/**
 * Chooses the backend from `--store` / WEFT_STORE: nothing means the SQLite
 * file in the data dir (zero setup); a postgres:// or postgresql:// URL means
 * PostgreSQL. Anything else is refused naming the option.
 */
import type { Logger } from '@weft/shared';
import { ValidationError } from '@weft/shared';
import { openPostgresStore } from './postgres/pg-backend.js';
import { openSqliteStore } from './sqlite-backend.js';
import type { ControlPlaneStore } from './store-contract.js';

export interface StoreChoice {
  /** The --store value; undefined or '' = SQLite. */
  spec: string | undefined;
  /** The SQLite file used when `spec` is empty. */
  sqliteFile: string;
  logger: Logger;
}

export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

export async function openStore(choice: StoreChoice): Promise<ControlPlaneStore> {
  const spec = choice.spec?.trim() ?? '';
  if (spec === '' || spec === 'sqlite') return openSqliteStore(choice.sqliteFile);
  if (isPostgresUrl(spec)) return openPostgresStore(spec, choice.logger);
  throw new ValidationError(
    'store',
    `must be a postgres:// URL (or empty for the SQLite file in the data dir), got ${JSON.stringify(spec.replace(/:[^:@/]*@/, ':***@'))}`,
  );
}
