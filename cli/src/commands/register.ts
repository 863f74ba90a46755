/**
 * `weft register` / `weft deregister`: talk to the local agent's admin API,
 * because registrations belong to the agent's session lease (DESIGN.md).
 */
import { DefaultPorts, parseHostPort } from '@weft/shared';
import type { Command } from 'commander';
import { CliError, parseFlag } from '../cli-error.js';
import { requiredOption } from '../required-option.js';

const DEFAULT_AGENT = `127.0.0.1:${DefaultPorts.agentAdmin}`;

interface RegisterFlags {
  name: string;
  port: string;
  id?: string;
  address?: string;
  healthHttp?: string;
  healthTcp?: boolean;
  healthInterval?: string;
  tag: string[];
  meta: string[];
  zone?: string;
  weight?: string;
  protocol?: string;
  agent: string;
  json?: boolean;
  replace?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerCommands(program: Command): void {
  const register = program.command('register').description('register a service running on this host with the local agent');
  requiredOption(register, '--name <name>', 'service name, e.g. orders');
  requiredOption(register, '--port <port>', 'port the service listens on')
    .option('--id <id>', 'instance id (default: derived from name, agent and port)')
    .option('--address <ip>', 'address the agent reaches the service on', '127.0.0.1')
    .option('--health-http <path>', 'HTTP health check path, e.g. /healthz')
    .option('--health-tcp', 'TCP connect health check (the default when no check is given)')
    .option('--health-interval <duration>', 'interval of the --health-http or --health-tcp check (default 5s)')
    .option('--tag <tag>', 'tag (repeatable)', collect, [])
    .option('--meta <key=value>', 'metadata entry (repeatable)', collect, [])
    .option('--zone <zone>', 'zone of the instance')
    .option('--weight <n>', 'load-balancing weight')
    .option('--protocol <protocol>', 'what the instance speaks: http (default), http2, grpc or tcp')
    .option('--agent <host:port>', 'local agent admin API', DEFAULT_AGENT)
    .option('--json', 'print the agent answer as JSON')
    .option('--replace', 'replace a registration of the same instance id (same name and port) even if this changes it')
    .action(async (o: RegisterFlags) => {
      if (o.healthInterval !== undefined && !o.healthHttp && !o.healthTcp)
        throw new CliError('--health-interval needs a check to apply to: add --health-http <path> or --health-tcp', 2);
      const body: Record<string, unknown> = { name: o.name, port: numberOrString(o.port), address: o.address, tags: o.tag };
      if (o.id) body.id = o.id;
      if (o.zone) body.zone = o.zone;
      if (o.weight) body.weight = numberOrString(o.weight);
      if (o.protocol) body.protocol = o.protocol;
      if (o.meta.length) body.metadata = parseMeta(o.meta);
      const interval = o.healthInterval ?? '5s';
      if (o.healthHttp) body.health = { http: o.healthHttp, interval };
      else if (o.healthTcp) body.health = { tcp: true, interval };
      const answer = await callAgent(o.agent, 'POST', `/v1/services${o.replace ? '' : '?replace=false'}`, body);
      if (typeof answer.warning === 'string') console.error(`weft: warning: ${answer.warning}`);
      if (o.json) return console.log(JSON.stringify(answer));
      const changes = Array.isArray(answer.changes) ? (answer.changes as string[]) : [];
      const verb = answer.replaced !== true ? 'registered' : changes.length > 0 ? 'replaced' : 'already registered, unchanged:';
      console.log(
        `${verb} ${o.name} as ${answer.id}${answer.synced === false ? ' (control plane not reachable yet; the agent will sync it)' : ''}`,
      );
      for (const c of changes) console.log(`  ${c}`);
      // The credential is shown once (the agent keeps only its hash); registering again makes a new one.
      if (typeof answer.proxyUrl === 'string') console.log(`proxy (calls as service ${o.name}): HTTP_PROXY=${answer.proxyUrl}`);
    });

  program
    .command('deregister')
    .description('remove a registration from the local agent')
    .argument('<id>', 'instance id, as printed by weft register or weft services')
    .option('--agent <host:port>', 'local agent admin API', DEFAULT_AGENT)
    .action(async (id: string, o: { agent: string }) => {
      await callAgent(o.agent, 'DELETE', `/v1/services/${encodeURIComponent(id)}`);
      console.log(`deregistered ${id}`);
    });
}

function numberOrString(v: string): number | string {
  return /^\d+$/.test(v) ? Number(v) : v;
}

function parseMeta(entries: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const eq = e.indexOf('=');
    if (eq <= 0) throw new CliError(`--meta: expected key=value, got ${JSON.stringify(e)}`, 2);
    out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

export async function callAgent(agent: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const { host, port } = parseFlag(() => parseHostPort(agent, '--agent'));
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new CliError(`cannot reach the agent at ${agent} (is \`weft agent\` running? set --agent HOST:PORT): ${(err as Error).message}`);
  }
  const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const changes = Array.isArray(answer.changes) ? (answer.changes as string[]) : [];
    const message =
      res.status === 409 && changes.length > 0
        ? `instance "${String(answer.instanceId)}" is already registered; this would change:\n${changes.map((c) => `  ${c}`).join('\n')}\nrun again with --replace to replace it`
        : String(answer.message ?? `agent answered ${res.status}`);
    throw new CliError(message, res.status === 400 || res.status === 409 ? 2 : 1);
  }
  return answer;
}
