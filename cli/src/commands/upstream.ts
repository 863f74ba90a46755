/**
 * `weft upstream add|list|remove`: local ports the agent opens on
 * 127.0.0.1 for TCP services (`protocol: tcp`), as Consul's upstreams: an
 * app connects to 127.0.0.1:<local port> and reaches the service through
 * the mesh. Talks to the local agent's admin API (/v1/upstreams).
 */
import { DefaultPorts } from '@weft/shared';
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import { requiredOption } from '../required-option.js';
import { formatTable } from '../table.js';
import { callAgent } from './register.js';

const DEFAULT_AGENT = `127.0.0.1:${DefaultPorts.agentAdmin}`;

export function upstreamCommand(program: Command): void {
  const upstream = program.command('upstream').description('local ports for TCP services (databases, caches) through the mesh');

  const add = upstream
    .command('add')
    .description('open 127.0.0.1:<local-port> on the local agent; connections to it reach <service>')
    .argument('<service>', 'service name, e.g. postgres');
  requiredOption(add, '--local-port <port>', 'port the agent listens on (127.0.0.1)')
    .option('--agent <host:port>', 'local agent admin API', DEFAULT_AGENT)
    .option('--json', 'print the agent answer as JSON')
    .action(async (service: string, o: { localPort: string; agent: string; json?: boolean }) => {
      if (!/^\d+$/.test(o.localPort)) throw new CliError(`--local-port: expected a port number, got ${JSON.stringify(o.localPort)}`, 2);
      const answer = await callAgent(o.agent, 'POST', '/v1/upstreams', { service, localPort: Number(o.localPort) });
      if (o.json) console.log(JSON.stringify(answer));
      else console.log(`upstream ${service} on 127.0.0.1:${String(answer.localPort)}`);
    });

  upstream
    .command('list')
    .description('the local agent upstream ports')
    .option('--agent <host:port>', 'local agent admin API', DEFAULT_AGENT)
    .option('--json', 'print the agent answer as JSON')
    .action(async (o: { agent: string; json?: boolean }) => {
      const answer = await callAgent(o.agent, 'GET', '/v1/upstreams');
      const list = (answer.upstreams ?? []) as { service: string; localPort: number }[];
      if (o.json) console.log(JSON.stringify(answer));
      else
        console.log(
          formatTable(
            ['SERVICE', 'LOCAL PORT'],
            list.map((u) => [u.service, `127.0.0.1:${u.localPort}`]),
          ),
        );
    });

  upstream
    .command('remove')
    .description('close the local port of <service> (open connections stay until they end)')
    .argument('<service>', 'service name')
    .option('--agent <host:port>', 'local agent admin API', DEFAULT_AGENT)
    .action(async (service: string, o: { agent: string }) => {
      await callAgent(o.agent, 'DELETE', `/v1/upstreams/${encodeURIComponent(service)}`);
      console.log(`removed upstream ${service}`);
    });
}
