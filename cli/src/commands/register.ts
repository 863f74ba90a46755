/**
 * `weft register` / `weft deregister`: talk to the local agent's admin API,
 * because registrations belong to the agent's session lease (DESIGN.md).
 */
import { DefaultPorts, parseHostPort } from '@weft/shared';
import type { Command } from 'commander';
import { CliError, parseFlag } from '../cli-error.js';

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
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerCommands(program: Command): void {
  program
    .command('register')
    .description('register a service running on this host with the local agent')
    .requiredOption('--name <name>', 'service name, e.g. orders')
    .requiredOption('--port <port>', 'port the service listens on')
    .option('--id <id>', 'instance id (default: derived from name, agent and port)')
    .option('--address <ip>', 'address the agent reaches the service on', '127.0.0.1')
    .option('--health-http <path>', 'HTTP health check path, e.g. /healthz')
    .option('--health-tcp', 'TCP connect health check')
    .option('--health-interval <duration>', 'health check interval', '5s')
    .option('--tag <tag>', 'tag (repeatable)', collect, [])
    .option('--meta <key=value>', 'metadata entry (repeatable)', collect, [])
    .option('--zone <zone>', 'zone of the instance')
    .option('--weight <n>', 'load-balancing weight')
    .option('--protocol <protocol>', 'what the instance speaks: http (default), http2, grpc or tcp')
    .option('--agent <host:port>', 'local agent admin API', DEFAULT_AGENT)
    .option('--json', 'print the agent answer as JSON')
    .action(async (o: RegisterFlags) => {
      const body: Record<string, unknown> = { name: o.name, port: numberOrString(o.port), address: o.address, tags: o.tag };
      if (o.id) body.id = o.id;
      if (o.zone) body.zone = o.zone;
      if (o.weight) body.weight = numberOrString(o.weight);
      if (o.protocol) body.protocol = o.protocol;
      if (o.meta.length) body.metadata = parseMeta(o.meta);
      if (o.healthHttp) body.health = { http: o.healthHttp, interval: o.healthInterval };
      else if (o.healthTcp) body.health = { tcp: true, interval: o.healthInterval };
      const answer = await callAgent(o.agent, 'POST', '/v1/services', body);
      if (o.json) console.log(JSON.stringify(answer));
      else {
        console.log(
          `registered ${o.name} as ${answer.id}${answer.synced === false ? ' (control plane not reachable yet; the agent will sync it)' : ''}`,
        );
        // The credential is shown once (the agent keeps only its hash); registering again makes a new one.
        if (typeof answer.proxyUrl === 'string') console.log(`proxy (calls as service ${o.name}): HTTP_PROXY=${answer.proxyUrl}`);
      }
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
  if (!res.ok) throw new CliError(String(answer.message ?? `agent answered ${res.status}`), res.status === 400 ? 2 : 1);
  return answer;
}
