import { startControlPlane } from '@weft/control-plane';
import { createLogger, DEFAULT_TRUST_DOMAIN, DefaultPorts, Defaults, parseDuration, validatePort, validateTrustDomain } from '@weft/shared';
import type { Command } from 'commander';
import { parseFlag } from '../cli-error.js';
import { closeOnSignal } from '../run-until-signal.js';

interface ControlPlaneFlags {
  dataDir: string;
  host: string;
  grpcPort: string;
  httpPort: string;
  leaseTtl: string;
  restartGrace: string;
  trustDomain: string;
  caCert?: string;
  caKey?: string;
  certTtl: string;
  tlsSan?: string[];
  insecure?: boolean;
}

export function controlPlaneCommand(program: Command): void {
  program
    .command('control-plane')
    .description('run the control plane: registry in SQLite, config stream to agents over gRPC')
    .option('--data-dir <dir>', 'where the SQLite database lives', `${Defaults.dataDir}/control-plane`)
    .option('--host <ip>', 'address to listen on', '0.0.0.0')
    .option('--grpc-port <port>', 'gRPC port (agents and the weft command)', String(DefaultPorts.controlPlaneGrpc))
    .option('--http-port <port>', 'HTTP port (/healthz, /v1/services, /v1/agents)', String(DefaultPorts.controlPlaneHttp))
    .option('--lease-ttl <duration>', "how long an agent's instances outlive its connection", `${Defaults.leaseTtlMs / 1000}s`)
    .option('--restart-grace <duration>', 'after a restart, how long known agents get to reconnect', `${Defaults.restartGraceMs / 1000}s`)
    .option('--trust-domain <domain>', 'SPIFFE trust domain of the mesh', DEFAULT_TRUST_DOMAIN)
    .option('--ca-cert <file>', 'use this CA root (PEM) instead of the one made in <data-dir>/ca')
    .option('--ca-key <file>', 'the private key of --ca-cert (ECDSA P-256/P-384, PEM)')
    .option('--cert-ttl <duration>', 'lifetime of agent certificates', '24h')
    .option('--tls-san <name...>', 'extra DNS names or IPs for the control plane certificate')
    .option('--insecure', 'plaintext gRPC without certificates or tokens (local experiments only)')
    .action(async (o: ControlPlaneFlags) => {
      const logger = createLogger({ component: 'control-plane' });
      const options = parseFlag(() => ({
        dataDir: o.dataDir,
        host: o.host,
        grpcPort: portFlag(o.grpcPort, '--grpc-port'),
        httpPort: portFlag(o.httpPort, '--http-port'),
        leaseTtlMs: parseDuration(o.leaseTtl, '--lease-ttl'),
        restartGraceMs: parseDuration(o.restartGrace, '--restart-grace'),
        logger,
        trustDomain: validateTrustDomain(o.trustDomain, '--trust-domain'),
        caCertFile: o.caCert,
        caKeyFile: o.caKey,
        certTtlMs: parseDuration(o.certTtl, '--cert-ttl'),
        tlsSans: o.tlsSan ?? [],
        insecure: o.insecure === true || program.opts().insecure === true,
      }));
      const cp = await startControlPlane(options);
      closeOnSignal(() => cp.close(), logger);
    });
}

/** Like validatePort, but 0 (let the OS choose) is allowed for listeners. */
export function portFlag(value: string, field: string): number {
  const n = Number(value);
  return n === 0 ? 0 : validatePort(Number.isInteger(n) ? n : value, field);
}
