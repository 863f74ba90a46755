/**
 * Wiring of the control plane: store -> registry -> gRPC and HTTP servers.
 * startControlPlane resolves once both servers listen and logs the `ready`
 * event (tests and the CLI read the bound ports from it).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DefaultAccess, Logger } from '@weft/shared';
import { meshSettingsEntry } from './registry/mesh-settings.js';
import { PolicyRegistry } from './registry/policy-registry.js';
import { Registry } from './registry/registry.js';
import { type RunningGrpcServer, startGrpcServer } from './server/grpc-server.js';
import { type RunningHttpApi, startHttpApi } from './server/http-api.js';
import { ControlPlaneMetrics } from './server/metrics.js';
import { RejectedVersions } from './server/rejected-versions.js';
import { lockDataDir } from './store/data-dir-lock.js';
import { openDatabase } from './store/database.js';
import { PolicyStore } from './store/policy-store.js';
import { SqliteStore } from './store/sqlite-store.js';

export interface ControlPlaneOptions {
  /** The SQLite file lives here (created if missing): <dataDir>/control-plane.db */
  dataDir: string;
  /** Bind address for gRPC and HTTP; default '0.0.0.0'. */
  host?: string;
  /** 0 = the OS picks. */
  grpcPort: number;
  /** 0 = the OS picks. */
  httpPort: number;
  leaseTtlMs: number;
  restartGraceMs: number;
  logger: Logger;
  /** Group commit: how long the first write of a batch waits for others; 0 (default) = the same event-loop turn. */
  writeBatchWindowMs?: number;
  /** What agents do with a request no AccessPolicy rule decides; default all-authenticated ("mesh/settings"). */
  defaultAccess?: DefaultAccess;
}

export interface ControlPlane {
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Ends discovery streams, stops the servers and timers, closes SQLite. */
  close(): Promise<void>;
}

export const DB_FILE_NAME = 'control-plane.db';

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const host = opts.host ?? '0.0.0.0';
  const log = opts.logger;
  mkdirSync(opts.dataDir, { recursive: true });
  const lock = lockDataDir(opts.dataDir);
  let db: ReturnType<typeof openDatabase>;
  try {
    db = openDatabase(join(opts.dataDir, DB_FILE_NAME));
  } catch (err) {
    lock.release();
    throw err;
  }
  const store = SqliteStore.on(db);
  const metrics = new ControlPlaneMetrics();
  const rejections = new RejectedVersions();
  const registry = new Registry(store, {
    leaseTtlMs: opts.leaseTtlMs,
    restartGraceMs: opts.restartGraceMs,
    logger: log,
    batching: { windowMs: opts.writeBatchWindowMs, onBatch: metrics.onBatch },
    onAgentRemoved: (agentId) => rejections.forgetAgent(agentId),
  });
  const settings = meshSettingsEntry({ defaultAccess: opts.defaultAccess });
  const policyStore = PolicyStore.on(db);
  const policies = new PolicyRegistry(policyStore, { instanceTags: (s) => registry.service(s)?.endpoints.map((e) => e.tags) }, log);
  let grpcServer: RunningGrpcServer | undefined;
  let httpApi: RunningHttpApi | undefined;

  const shutdown = async (): Promise<void> => {
    registry.close();
    await Promise.all([grpcServer?.close(), httpApi?.close()]);
    db.close();
    lock.release();
  };

  try {
    registry.start();
    policies.start();
    grpcServer = await startGrpcServer({
      policies,
      host,
      port: opts.grpcPort,
      registry,
      logger: log,
      rejections,
      observer: metrics.streamObserver,
      settings: { entry: () => settings },
    });
    metrics.bind(registry, grpcServer.streams);
    httpApi = await startHttpApi({
      host,
      port: opts.httpPort,
      registry,
      streams: grpcServer.streams,
      logger: log,
      rejections,
      metrics: metrics.registry,
    });
  } catch (err) {
    await shutdown();
    throw err;
  }

  const grpcPort = grpcServer.port;
  const httpPort = httpApi.port;
  log.info('ready', { grpcPort, httpPort, dataDir: opts.dataDir, defaultAccess: settings.defaultAccess });

  let closing: Promise<void> | undefined;
  return {
    grpcPort,
    httpPort,
    close: () => {
      closing ??= shutdown().then(() => log.info('stopped', { dataDir: opts.dataDir }));
      return closing;
    },
  };
}
