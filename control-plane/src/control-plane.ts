/**
 * Wiring of the control plane: store -> registry -> gRPC and HTTP servers.
 * startControlPlane resolves once both servers listen and logs the `ready`
 * event (tests and the CLI read the bound ports from it).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AddressAllowance,
  DEFAULT_TRUST_DOMAIN,
  type DefaultAccess,
  isLoopbackIp,
  type Logger,
  parseAddressAllowance,
  UnauthenticatedError,
} from '@weft/shared';
import { writePrivate } from './ca/ca-files.js';
import { MeshCa } from './ca/mesh-ca.js';
import { ServerIdentity, serverNames } from './ca/server-identity.js';
import { meshSettingsEntry } from './registry/mesh-settings.js';
import { PolicyRegistry } from './registry/policy-registry.js';
import { Registry } from './registry/registry.js';
import { StatsWindow } from './registry/stats-window.js';
import { ReplicaSync } from './replica-sync.js';
import type { AgentTrustStatus } from './server/agent-status.js';
import { bearerToken, meshAuthenticator } from './server/caller.js';
import { type RunningGrpcServer, startGrpcServer } from './server/grpc-server.js';
import { type RunningHttpApi, startHttpApi } from './server/http-api.js';
import { ControlPlaneMetrics } from './server/metrics.js';
import { RejectedVersions } from './server/rejected-versions.js';
import { lockDataDir } from './store/data-dir-lock.js';
import { openStore } from './store/open-store.js';
import type { PostgresStore } from './store/postgres/pg-backend.js';
import type { ControlPlaneStore } from './store/store-contract.js';
import { Tokens } from './trust/tokens.js';
import { TrustAuthority } from './trust/trust-authority.js';

export interface ControlPlaneOptions {
  /**
   * Created if missing; holds the CA files and the bootstrap token, and the
   * SQLite file (<dataDir>/control-plane.db) unless `store` names PostgreSQL.
   * Locked by one process at a time.
   */
  dataDir: string;
  /** 'postgres://…' to keep the mesh in PostgreSQL (replicas share it); default: the SQLite file in dataDir. */
  store?: string;
  /** With PostgreSQL: how often token records are re-read (tokens made on other replicas); default 2000 ms. */
  tokenRefreshMs?: number;
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
  /** Plaintext gRPC, no certificates, no tokens: local experiments only (logged loudly). */
  insecure?: boolean;
  /**
   * HTTP reads from this host (loopback): 'token' (default) needs a read or
   * operator token as from anywhere else; 'open' needs none (Kuma's
   * `localhostIsAdmin`, for reads only: any process on the host can read).
   */
  loopbackReads?: LoopbackReads;
  /**
   * Addresses beyond an agent's own host (loopback, localhost, its advertised
   * address) where enrolled agents may register instances: 'any', or IP
   * addresses and CIDR blocks; default none (server/instance-addresses.ts).
   */
  remoteInstances?: AddressAllowance;
  /** Default 'weft.local'. */
  trustDomain?: string;
  /** Operator-provided CA root (both or neither); default: a root made in <dataDir>/ca on first start. */
  caCertFile?: string;
  caKeyFile?: string;
  /** Lifetime of agent certificates; default 24 h. */
  certTtlMs?: number;
  /** Extra DNS names / IPs for the control plane's server certificate. */
  tlsSans?: string[];
}

export interface ControlPlane {
  readonly grpcPort: number;
  readonly httpPort: number;
  /** SHA-256 of the active CA root (hex); empty with --insecure. */
  readonly caFingerprint: string;
  /** Where the bootstrap operator token is (written on first start); empty with --insecure. */
  readonly bootstrapTokenFile: string;
  /** Ends discovery streams, stops the servers and timers, closes SQLite. */
  close(): Promise<void>;
}

export const DB_FILE_NAME = 'control-plane.db';
/** Where the first start writes the bootstrap operator token (0600). */
export const BOOTSTRAP_TOKEN_FILE = 'operator.token';
export const DEFAULT_CERT_TTL_MS = 24 * 3600 * 1000;

export type LoopbackReads = 'token' | 'open';
export const LOOPBACK_READS: readonly LoopbackReads[] = ['token', 'open'];

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const host = opts.host ?? '0.0.0.0';
  const log = opts.logger;
  mkdirSync(opts.dataDir, { recursive: true });
  const lock = lockDataDir(opts.dataDir);
  let store: ControlPlaneStore;
  try {
    store = await openStore({ spec: opts.store, sqliteFile: join(opts.dataDir, DB_FILE_NAME), logger: log });
  } catch (err) {
    lock.release();
    throw err;
  }
  const metrics = new ControlPlaneMetrics();
  const rejections = new RejectedVersions();
  const registry = new Registry(store.registry, {
    leaseTtlMs: opts.leaseTtlMs,
    restartGraceMs: opts.restartGraceMs,
    logger: log,
    batching: { windowMs: opts.writeBatchWindowMs, onBatch: metrics.onBatch },
    onAgentRemoved: (agentId) => rejections.forgetAgent(agentId),
    sharedStore: store.kind === 'postgres' ? {} : undefined,
  });
  const settings = meshSettingsEntry({ defaultAccess: opts.defaultAccess });
  const policies = new PolicyRegistry(store.policy, { instanceTags: (s) => registry.service(s)?.endpoints.map((e) => e.tags) }, log);
  let grpcServer: RunningGrpcServer | undefined;
  let httpApi: RunningHttpApi | undefined;
  let serverIdentity: ServerIdentity | undefined;
  let tokenRefresh: NodeJS.Timeout | undefined;
  let replicas: ReplicaSync | undefined;

  const shutdown = async (): Promise<void> => {
    serverIdentity?.close();
    if (tokenRefresh) clearInterval(tokenRefresh);
    // The last writes still announce themselves to the other replicas; then the channel closes.
    await registry.close().catch((err) => log.error('cannot commit the last registry writes', { err }));
    await replicas?.close().catch((err) => log.warn('cannot close the replica channel', { err }));
    await Promise.all([grpcServer?.close(), httpApi?.close()]);
    await store.close();
    lock.release();
  };

  let trust: Awaited<ReturnType<typeof setUpTrust>> | undefined;
  // Golden metrics reported by agents: memory only, 15 minutes (registry/stats-window.ts).
  const stats = new StatsWindow();
  try {
    await registry.start();
    await policies.start();
    if (opts.insecure) {
      log.warn(
        'INSECURE MODE: plaintext gRPC, no certificates, no tokens; anyone who reaches the port can do anything. Local experiments only.',
        {
          insecure: true,
        },
      );
    } else {
      trust = await setUpTrust(opts, store, host, log);
      serverIdentity = trust.serverIdentity;
      if (store.kind === 'postgres') {
        const tokens = trust.tokens;
        tokenRefresh = setInterval(() => {
          tokens.refresh().catch((err) => log.warn('cannot re-read tokens', { err }));
        }, opts.tokenRefreshMs ?? 2000);
        tokenRefresh.unref();
      }
    }
    if (store.kind === 'postgres' && opts.store) {
      replicas = new ReplicaSync({
        store: store as PostgresStore,
        url: opts.store,
        registry,
        policies,
        trust: trust && { authority: trust.authority, tokens: trust.tokens },
        logger: log,
      });
      replicas.start();
    }
    grpcServer = await startGrpcServer({
      identity: trust?.serverIdentity,
      authn: trust?.authn,
      trust: trust && { authority: trust.authority, tokens: trust.tokens, ca: trust.ca },
      trustStatus: trust && (() => trustStatus(trust!.authority)),
      remoteInstances: opts.remoteInstances === undefined ? undefined : parseAddressAllowance(opts.remoteInstances, 'remoteInstances'),
      policies,
      host,
      port: opts.grpcPort,
      registry,
      logger: log,
      rejections,
      observer: metrics.streamObserver,
      settings: { entry: () => settings },
      stats,
      metricsRegistry: metrics.registry,
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
      policies,
      trustStatus: trust && (() => trustStatus(trust!.authority)),
      stats,
      authorizeRead: trust
        ? (req) => {
            // A read from this host (127.0.0.0/8, ::1) is free of a token only with loopbackReads 'open'.
            if (opts.loopbackReads === 'open' && isLoopbackIp(req.socket.remoteAddress ?? '')) return;
            const token = bearerToken(req.headers.authorization);
            if (!token) throw new UnauthenticatedError('a read or operator token is required (authorization: Bearer <token>)');
            // A token made on another replica is read from the store on a miss (then the answer is a promise).
            const checked = trust!.tokens.checkCachedOrFresh(token, ['read', 'operator'], 'authorization');
            return checked instanceof Promise ? checked.then(() => undefined) : undefined;
          }
        : undefined,
    });
  } catch (err) {
    await shutdown();
    throw err;
  }

  const grpcPort = grpcServer.port;
  const httpPort = httpApi.port;
  const caFingerprint = trust?.ca.activeFingerprint() ?? '';
  const bootstrapTokenFile = trust ? join(opts.dataDir, BOOTSTRAP_TOKEN_FILE) : '';
  log.info('ready', {
    grpcPort,
    httpPort,
    dataDir: opts.dataDir,
    store: `${store.kind} ${store.location}`,
    replica: replicas?.replicaId,
    tls: !opts.insecure,
    trustDomain: trust?.ca.trustDomain,
    caFingerprint,
    bootstrapTokenFile,
    defaultAccess: settings.defaultAccess,
  });

  let closing: Promise<void> | undefined;
  return {
    grpcPort,
    httpPort,
    caFingerprint,
    bootstrapTokenFile,
    close: () => {
      closing ??= shutdown().then(() => log.info('stopped', { dataDir: opts.dataDir }));
      return closing;
    },
  };
}

/** The CA, tokens, the bootstrap operator token, the server's TLS identity and the authenticator. */
async function setUpTrust(opts: ControlPlaneOptions, cpStore: ControlPlaneStore, host: string, log: Logger) {
  const ca = await MeshCa.open({
    dataDir: opts.dataDir,
    trustDomain: opts.trustDomain ?? DEFAULT_TRUST_DOMAIN,
    caCertFile: opts.caCertFile,
    caKeyFile: opts.caKeyFile,
    logger: log,
  });
  const store = cpStore.trust;
  const tokens = new Tokens(store, () => ca.activeFingerprint());
  await tokens.refresh();
  const authority = new TrustAuthority({ ca, store, tokens, certTtlMs: opts.certTtlMs ?? DEFAULT_CERT_TTL_MS, logger: log });
  await authority.load();
  if (await tokens.needsBootstrap()) {
    const { token, record } = await tokens.create({ kind: 'operator', ttlMs: 0, description: 'bootstrap' });
    const file = join(opts.dataDir, BOOTSTRAP_TOKEN_FILE);
    writePrivate(file, `${token}\n`);
    log.warn('bootstrap operator token written; keep it secret, make narrower tokens with weft token create', {
      file,
      token: record.tokenId,
    });
  }
  const serverIdentity = await ServerIdentity.start(ca, serverNames(host, opts.tlsSans ?? []), log);
  const authn = meshAuthenticator(ca.trustDomain, tokens, log);
  return { ca, tokens, authority, serverIdentity, authn };
}

function trustStatus(authority: TrustAuthority): Map<string, AgentTrustStatus> {
  const out = new Map<string, AgentTrustStatus>();
  for (const [agentId, c] of authority.certificates())
    out.set(agentId, { certSerial: c.serial, certExpiresAtMs: c.expiresAtMs, revoked: authority.isRevoked(agentId) });
  return out;
}
