import { join } from 'node:path';
import {
  backupDatabase,
  copySqliteToPostgres,
  type DatabaseSummary,
  DataDirLockedError,
  DB_FILE_NAME,
  isPostgresUrl,
  LOOPBACK_READS,
  type LoopbackReads,
  lockDataDir,
  restoreDatabase,
  startControlPlane,
} from '@weft/control-plane';
import {
  createLogger,
  DEFAULT_ACCESS,
  DEFAULT_ACCESS_MODES,
  DEFAULT_TRUST_DOMAIN,
  DefaultPorts,
  Defaults,
  messageOf,
  parseDuration,
  UnavailableError,
  ValidationError,
  validateDefaultAccess,
  validatePort,
  validateTrustDomain,
} from '@weft/shared';
import type { Command } from 'commander';
import { addressAllowanceFlag } from '../address-allowance-flag.js';
import { CliError, parseFlag } from '../cli-error.js';
import { checkPortsFree } from '../port-check.js';
import { closeOnSignal } from '../run-until-signal.js';

interface ControlPlaneFlags {
  dataDir: string;
  store?: string;
  host: string;
  grpcPort: string;
  httpPort: string;
  leaseTtl: string;
  restartGrace: string;
  defaultAccess: string;
  trustDomain: string;
  caCert?: string;
  caKey?: string;
  certTtl: string;
  tlsSan?: string[];
  loopbackReads: string;
  allowRemoteInstances?: string | true;
  insecure?: boolean;
}

function loopbackReadsFlag(v: string): LoopbackReads {
  if (!(LOOPBACK_READS as readonly string[]).includes(v))
    throw new ValidationError('--loopback-reads', `must be ${LOOPBACK_READS.join(' or ')}`);
  return v as LoopbackReads;
}

function describeDb(s: DatabaseSummary): string {
  return `revision ${s.revision}, ${s.instances} instance(s), ${s.policyDocuments} policy document(s), schema ${s.schema}`;
}

/** `weft control-plane backup FILE` / `restore FILE` (embedded SQLite store). */
function backupCommands(cp: Command): void {
  // --data-dir is the control-plane command's own option (weft control-plane backup FILE --data-dir DIR).
  const dataDirOf = (cmd: Command): string => (cmd.optsWithGlobals() as { dataDir: string }).dataDir;
  cp.command('backup <file>')
    .description('copy the control plane database to FILE while it runs (SQLite online backup); --data-dir as for control-plane')
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const o = { dataDir: dataDirOf(cmd) };
      try {
        const s = await backupDatabase(join(o.dataDir, DB_FILE_NAME), file);
        console.log(`backed up ${o.dataDir} to ${file}: ${describeDb(s)}`);
      } catch (err) {
        throw new CliError(`backup: ${(err as Error).message}`);
      }
    });
  cp.command('restore <file>')
    .description('replace the database of a stopped control plane with a backup; --data-dir as for control-plane')
    .action((file: string, _o: unknown, cmd: Command) => {
      const o = { dataDir: dataDirOf(cmd) };
      try {
        const s = restoreDatabase(o.dataDir, DB_FILE_NAME, file);
        console.log(`restored ${file} into ${o.dataDir}: ${describeDb(s)}`);
      } catch (err) {
        const why = err instanceof DataDirLockedError ? `${err.message} (restore needs the control plane stopped)` : (err as Error).message;
        throw new CliError(`restore: ${why}`);
      }
    });
}

/** The --store value, else WEFT_STORE; checked to be a postgres:// URL when given. */
function storeFlag(value: string | undefined, field: string): string | undefined {
  const spec = (value ?? process.env.WEFT_STORE ?? '').trim();
  if (spec === '') return undefined;
  if (!isPostgresUrl(spec)) throw new ValidationError(field, 'must be a postgres:// or postgresql:// URL');
  return spec;
}

/** `weft control-plane migrate --to postgres://…` (copy a SQLite mesh into PostgreSQL). */
function migrateCommand(cp: Command): void {
  cp.command('migrate')
    .description(
      'copy the mesh of a stopped control plane (SQLite in --data-dir) into an empty PostgreSQL database; --data-dir as for control-plane',
    )
    .requiredOption('--to <url>', 'the PostgreSQL database (postgres://user@host:5432/db)')
    .action(async (o: { to: string }, cmd: Command) => {
      const dataDir = (cmd.optsWithGlobals() as { dataDir: string }).dataDir;
      const logger = createLogger({ component: 'control-plane' });
      const to = parseFlag(() => storeFlag(o.to, '--to') as string);
      let lock: { release(): void } | undefined;
      try {
        // The copy is of a mesh at rest: a running control plane would keep writing to SQLite.
        lock = lockDataDir(dataDir);
        const s = await copySqliteToPostgres(join(dataDir, DB_FILE_NAME), to, logger);
        const rows = Object.entries(s.rows)
          .map(([t, n]) => `${t} ${n}`)
          .join(', ');
        console.log(
          `copied ${dataDir} to PostgreSQL (schema version ${s.schemaVersion}; revision ${s.revisions.revision}, config revision ${s.revisions.config_revision}): ${rows}`,
        );
        console.log('start the control plane with --store <url> (and the same CA: --ca-cert/--ca-key, or this data dir)');
      } catch (err) {
        const why = err instanceof DataDirLockedError ? `${err.message} (migrate needs the control plane stopped)` : messageOf(err);
        throw new CliError(`migrate: ${why}`);
      } finally {
        lock?.release();
      }
    });
}

export function controlPlaneCommand(program: Command): void {
  const cp = program.command('control-plane');
  backupCommands(cp);
  migrateCommand(cp);
  cp.description('run the control plane: registry in SQLite (or PostgreSQL with --store), config stream to agents over gRPC')
    .option(
      '--data-dir <dir>',
      'where the SQLite database (unless --store), the CA files and the bootstrap token live',
      `${Defaults.dataDir}/control-plane`,
    )
    .option(
      '--store <url>',
      'keep the mesh in PostgreSQL (postgres://user@host:5432/db) so replicas can share it; default WEFT_STORE, else SQLite in --data-dir',
    )
    .option('--host <ip>', 'address to listen on', '0.0.0.0')
    .option('--grpc-port <port>', 'gRPC port (agents and the weft command)', String(DefaultPorts.controlPlaneGrpc))
    .option('--http-port <port>', 'HTTP port (/healthz, /v1/services, /v1/agents)', String(DefaultPorts.controlPlaneHttp))
    .option('--lease-ttl <duration>', "how long an agent's instances outlive its connection", `${Defaults.leaseTtlMs / 1000}s`)
    .option('--restart-grace <duration>', 'after a restart, how long known agents get to reconnect', `${Defaults.restartGraceMs / 1000}s`)
    .option(
      '--default-access <mode>',
      `what agents do with a request no AccessPolicy rule decides: ${DEFAULT_ACCESS_MODES.join(' | ')} (all-authenticated: any mesh identity, never an unauthenticated one)`,
      DEFAULT_ACCESS,
    )
    .option('--trust-domain <domain>', 'SPIFFE trust domain of the mesh', DEFAULT_TRUST_DOMAIN)
    .option('--ca-cert <file>', 'use this CA root (PEM) instead of the one made in <data-dir>/ca')
    .option('--ca-key <file>', 'the private key of --ca-cert (ECDSA P-256/P-384, PEM)')
    .option('--cert-ttl <duration>', 'lifetime of agent certificates', '24h')
    .option('--tls-san <name...>', 'extra DNS names or IPs for the control plane certificate')
    .option(
      '--allow-remote-instances [list]',
      'let enrolled agents register instances beyond their own host (loopback, localhost, their advertised address): at any address, or only these comma-separated addresses / CIDR blocks (default: none)',
    )
    .option(
      '--loopback-reads <mode>',
      'HTTP reads from this host: token (a read or operator token, as from anywhere) | open (none: any local process can read the mesh)',
      'token',
    )
    .option(
      '--insecure',
      'INSECURE, local experiments only: plaintext gRPC without certificates or tokens; anyone who reaches the port can do anything',
    )
    .action(async (o: ControlPlaneFlags) => {
      const logger = createLogger({ component: 'control-plane' });
      const options = parseFlag(() => ({
        dataDir: o.dataDir,
        store: storeFlag(o.store, '--store'),
        host: o.host,
        grpcPort: portFlag(o.grpcPort, '--grpc-port'),
        httpPort: portFlag(o.httpPort, '--http-port'),
        leaseTtlMs: parseDuration(o.leaseTtl, '--lease-ttl'),
        restartGraceMs: parseDuration(o.restartGrace, '--restart-grace'),
        defaultAccess: validateDefaultAccess(o.defaultAccess, '--default-access'),
        logger,
        trustDomain: validateTrustDomain(o.trustDomain, '--trust-domain'),
        caCertFile: o.caCert,
        caKeyFile: o.caKey,
        certTtlMs: parseDuration(o.certTtl, '--cert-ttl'),
        tlsSans: o.tlsSan ?? [],
        loopbackReads: loopbackReadsFlag(o.loopbackReads),
        remoteInstances: addressAllowanceFlag(o.allowRemoteInstances, '--allow-remote-instances'),
        insecure: o.insecure === true || program.opts().insecure === true,
      }));
      await checkPortsFree([
        { flag: '--grpc-port', host: options.host, port: options.grpcPort },
        { flag: '--http-port', host: options.host, port: options.httpPort },
      ]);
      let running: Awaited<ReturnType<typeof startControlPlane>>;
      try {
        running = await startControlPlane(options);
      } catch (err) {
        if (err instanceof DataDirLockedError || err instanceof UnavailableError) throw new CliError(err.message);
        throw err;
      }
      closeOnSignal(() => running.close(), logger);
    });
}

/** Like validatePort, but 0 (let the OS choose) is allowed for listeners. */
export function portFlag(value: string, field: string): number {
  const n = Number(value);
  return n === 0 ? 0 : validatePort(Number.isInteger(n) ? n : value, field);
}
