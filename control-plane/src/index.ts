/** @weft/control-plane: the registry in SQLite or PostgreSQL, streamed to agents over gRPC. */
export {
  type ControlPlane,
  type ControlPlaneOptions,
  DB_FILE_NAME,
  LOOPBACK_READS,
  type LoopbackReads,
  startControlPlane,
} from './control-plane.js';
export type { ServiceEntry } from './registry/endpoint-view.js';
export { type AgentRecord, Registry, type RegistryOptions } from './registry/registry.js';
export { backupDatabase, type DatabaseSummary, inspectDatabase, restoreDatabase } from './store/backup.js';
export { DataDirLockedError, LOCK_FILE_NAME, lockDataDir } from './store/data-dir-lock.js';
export { type CopySummary, copySqliteToPostgres } from './store/migrate-to-postgres.js';
export { isPostgresUrl } from './store/open-store.js';
export { type ChangeResult, SqliteStore, type StoredAgent } from './store/sqlite-store.js';
export type { ControlPlaneStore } from './store/store-contract.js';
