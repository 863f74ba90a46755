import { readFileSync } from 'node:fs';
import {
  AccessLogOpenError,
  AGENT_NODE_FLAGS,
  detectAdvertiseAddress,
  parseControlPlaneAddresses,
  startAgent,
  startedWithAgentNodeFlags,
} from '@weft/agent';
import { EnrolmentError } from '@weft/agent/identity/index';
import { createLogger, DefaultPorts, Defaults, messageOf, parseDuration, ValidationError, validateAddress } from '@weft/shared';
import { type Command, Option } from 'commander';
import { addressAllowanceFlag } from '../address-allowance-flag.js';
import { CliError, parseFlag } from '../cli-error.js';
import { checkPortsFree } from '../port-check.js';
import { closeOnSignal } from '../run-until-signal.js';
import { connectTrust } from '../trust-client.js';
import { portFlag } from './control-plane.js';
import { controlPlaneOption } from './services.js';

interface AgentFlags {
  controlPlane: string;
  dataDir: string;
  advertiseAddress?: string;
  inboundHost?: string;
  adminPort: string;
  outboundPort: string;
  inboundPort: string;
  agentId?: string;
  zone?: string;
  requestTimeout: string;
  perTryTimeout?: string;
  maxRequestsPerService?: string;
  maxPendingPerService?: string;
  allowRemoteRegistrations?: string | true;
  joinToken?: string;
  joinTokenFile?: string;
  insecure?: boolean;
  /** false with --no-access-enforcement. */
  accessEnforcement?: boolean;
  renewAt?: string;
  tunnelIdleTimeout?: string;
  tunnelMaxDuration?: string;
  tunnelDrain?: string;
  subscriptionIdleTimeout?: string;
  accessLog?: string;
  accessLogSample: string;
  statsInterval?: string;
}

function optionalDuration(value: string | undefined, flag: string): number | undefined {
  return value === undefined ? undefined : parseDuration(value, flag);
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !(n > 0)) throw new ValidationError(flag, 'must be a positive integer');
  return n;
}

export function agentCommand(program: Command): void {
  const agent = program
    .command('agent')
    .description("run this host's agent: local registration API, outbound and inbound proxy")
    .option(
      '--control-plane <host:port,...>',
      "control plane gRPC address, or its replicas' addresses separated by commas (the agent uses one, and moves to another when it goes)",
      `127.0.0.1:${DefaultPorts.controlPlaneGrpc}`,
    )
    .option('--data-dir <dir>', 'where the agent keeps its id and local registrations', `${Defaults.dataDir}/agent`)
    .option('--advertise-address <ip>', 'address other agents use to reach this host (default: first non-loopback interface)')
    .option('--inbound-host <ip>', 'address the inbound listener binds (default: the advertise address)')
    .option('--admin-port <port>', 'admin API port on 127.0.0.1', String(DefaultPorts.agentAdmin))
    .option('--outbound-port <port>', 'outbound proxy port on 127.0.0.1', String(DefaultPorts.agentOutbound))
    .option('--inbound-port <port>', 'inbound (mesh) port on the advertise address', String(DefaultPorts.agentInbound))
    .option('--agent-id <id>', 'stable id of this agent (default: generated once and kept in the data dir)')
    .option('--zone <zone>', 'zone of this host')
    .option('--request-timeout <duration>', 'deadline of a proxied request, retries included', `${Defaults.requestTimeoutMs / 1000}s`)
    .option('--per-try-timeout <duration>', 'longest wait for one try when a retry could follow (default 5s)')
    .option('--max-requests-per-service <n>', 'circuit breaking: requests in flight per destination service (default 1024)')
    .option('--max-pending-per-service <n>', 'circuit breaking: requests waiting for a response per destination service (default 1024)')
    .option(
      '--tunnel-idle-timeout <duration>',
      'close a WebSocket or TCP tunnel that carried no byte for this long, 0 = never (default 1h)',
    )
    .option('--tunnel-max-duration <duration>', 'close a WebSocket or TCP tunnel this long after it opened, 0 = never (default 24h)')
    .option('--tunnel-drain <duration>', "close a deregistered local instance's tunnels after this long (default 10s)")
    .option(
      '--subscription-idle-timeout <duration>',
      'drop the subscription to a service no local app called for this long, 0 = never (default 1h)',
    )
    .option(
      '--allow-remote-registrations [list]',
      'let local registrations point at other hosts: all of them, or only these comma-separated addresses / CIDR blocks (default: this host only)',
    )
    .option(
      '--access-log <stdout|file>',
      'write one JSON line per proxied request to stdout or append it to this file (reopened on SIGHUP); off by default',
    )
    .option('--access-log-sample <rate>', 'fraction of requests written to the access log, 0..1', '1')
    .option('--stats-interval <duration>', 'report golden metrics (weft stat, weft top) to the control plane this often, 0 = off', '5s')
    .option('--join-token <token>', 'enrol with this join token when the data dir holds no certificate (weft token create)')
    .option('--join-token-file <file>', 'read the join token from this file')
    .option(
      '--insecure',
      'INSECURE, local experiments only: plaintext to the control plane and between agents, no certificate, no authenticated caller',
    )
    .option('--no-access-enforcement', 'do not decide access policy here (AccessPolicy and the mesh default are then not enforced)')
    .addOption(new Option('--renew-at <fraction>', 'renew the certificate after this fraction of its life').default('0.667').hideHelp())
    .action(async (o: AgentFlags) => {
      const logger = createLogger({ component: 'agent' });
      if (!startedWithAgentNodeFlags())
        logger.info('node runs this agent without the flags it is tuned for: expect more garbage-collector pauses under load', {
          nodeFlags: AGENT_NODE_FLAGS.join(' '),
          how: `node ${AGENT_NODE_FLAGS.join(' ')} "$(command -v weft)" agent … (as deploy/systemd/weft-agent.service does)`,
        });
      const options = parseFlag(() => ({
        controlPlane: parseControlPlaneAddresses(o.controlPlane, '--control-plane'),
        dataDir: o.dataDir,
        advertiseAddress: o.advertiseAddress === undefined ? undefined : validateAddress(o.advertiseAddress, '--advertise-address'),
        inboundHost: o.inboundHost === undefined ? undefined : validateAddress(o.inboundHost, '--inbound-host'),
        adminPort: portFlag(o.adminPort, '--admin-port'),
        outboundPort: portFlag(o.outboundPort, '--outbound-port'),
        inboundPort: portFlag(o.inboundPort, '--inbound-port'),
        agentId: o.agentId,
        zone: o.zone,
        requestTimeoutMs: parseDuration(o.requestTimeout, '--request-timeout'),
        allowRemoteRegistrations: addressAllowanceFlag(o.allowRemoteRegistrations, '--allow-remote-registrations'),
        subscribeWaitMs: Defaults.subscribeWaitMs,
        subscriptionIdleTimeoutMs: optionalDuration(o.subscriptionIdleTimeout, '--subscription-idle-timeout'),
        logger,
        resilience: {
          perTryTimeoutMs: o.perTryTimeout === undefined ? undefined : parseDuration(o.perTryTimeout, '--per-try-timeout'),
          maxRequestsPerService: positiveInt(o.maxRequestsPerService, '--max-requests-per-service'),
          maxPendingRequestsPerService: positiveInt(o.maxPendingPerService, '--max-pending-per-service'),
        },
        joinToken: o.joinToken ?? (o.joinTokenFile === undefined ? undefined : readTokenFile(o.joinTokenFile)),
        // `--insecure` is also a global option (for the CLI's own calls); either spelling means the agent's flag.
        insecure: o.insecure === true || program.opts().insecure === true,
        // Only --no-access-enforcement decides here; otherwise the agent's default holds (on, but off
        // under --insecure, where no source is authenticated and enforcing would refuse every call).
        access: o.accessEnforcement === false ? { enforce: false } : undefined,
        renewAt: fraction(o.renewAt ?? '0.667', '--renew-at'),
        tunnels: {
          idleTimeoutMs: optionalDuration(o.tunnelIdleTimeout, '--tunnel-idle-timeout'),
          maxDurationMs: optionalDuration(o.tunnelMaxDuration, '--tunnel-max-duration'),
          drainMs: optionalDuration(o.tunnelDrain, '--tunnel-drain'),
        },
        accessLog: o.accessLog === undefined ? undefined : { target: o.accessLog, sampleRate: sampleRate(o.accessLogSample) },
        statsIntervalMs: optionalDuration(o.statsInterval, '--stats-interval'),
      }));
      const inboundHost = options.inboundHost ?? options.advertiseAddress ?? detectAdvertiseAddress();
      await checkPortsFree([
        { flag: '--admin-port', host: '127.0.0.1', port: options.adminPort },
        { flag: '--outbound-port', host: '127.0.0.1', port: options.outboundPort },
        { flag: o.inboundHost ? '--inbound-port (on --inbound-host)' : '--inbound-port', host: inboundHost, port: options.inboundPort },
      ]);
      let agent: Awaited<ReturnType<typeof startAgent>>;
      try {
        agent = await startAgent(options);
      } catch (err) {
        if (err instanceof EnrolmentError) throw new CliError(err.message);
        if (err instanceof AccessLogOpenError) throw new CliError(`--access-log: ${err.message}`, 2);
        throw err;
      }
      closeOnSignal(() => agent.close(), logger);
      // SIGHUP reopens the access-log file (logrotate); without a file it keeps its default (the process ends).
      if (options.accessLog !== undefined && options.accessLog.target !== 'stdout') {
        process.on('SIGHUP', () => {
          logger.info('reopening the access log', { target: options.accessLog?.target });
          agent.reopenAccessLog();
        });
      }
    });
  agent
    .command('revoke <agent-id>')
    .description('revoke an agent: cut its stream, refuse its renewals, remove its instances, tell every agent to refuse its certificate')
    .option('--reason <text>', 'kept with the revocation', '')
    .option(...controlPlaneOption)
    .action(async (agentId: string, o: { reason: string; controlPlane: string }) => {
      // `weft agent revoke ID --control-plane X`: the option may have been taken by the `agent` command itself.
      const cp = agent.getOptionValueSource('controlPlane') === 'cli' ? (agent.opts().controlPlane as string) : o.controlPlane;
      const trust = connectTrust(cp);
      try {
        const res = await trust.revokeAgent(agentId, o.reason);
        console.log(
          `agent ${agentId} revoked: ${res.instances_removed} instance(s) removed, stream ${res.stream_closed ? 'closed' : 'not open'}, ${res.serials.length} certificate serial(s) on the deny list`,
        );
      } finally {
        trust.close();
      }
    });
}

function readTokenFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ValidationError('--join-token-file', messageOf(err));
  }
}

function sampleRate(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new ValidationError('--access-log-sample', 'must be a number from 0 to 1');
  return n;
}

function fraction(value: string, flag: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new ValidationError(flag, 'must be between 0 and 1');
  return n;
}
