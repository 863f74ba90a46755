import { DefaultPorts, healthFromProto } from '@weft/shared';
import type { AgentStatus__Output } from '@weft/shared/generated/weft/v1/AgentStatus';
import type { Command } from 'commander';
import { connectRegistry } from '../registry-client.js';
import { formatTable } from '../table.js';

export const controlPlaneOption = [
  '--control-plane <host:port>',
  'control plane gRPC address',
  `127.0.0.1:${DefaultPorts.controlPlaneGrpc}`,
] as const;

export function servicesCommand(program: Command): void {
  program
    .command('services')
    .description('list services and their instances as the control plane holds them')
    .option(...controlPlaneOption)
    .option('--json', 'print JSON')
    .action(async (o: { controlPlane: string; json?: boolean }) => {
      const registry = connectRegistry(o.controlPlane);
      try {
        const [res, agents] = await Promise.all([registry.listServices(), registry.listAgents()]);
        const stateOf = agentStates(agents.agents, Date.now());
        const services = res.services.map((s) => ({
          name: s.name,
          version: s.version,
          instances: s.instances.map((i) => ({
            id: i.instance_id,
            address: i.address,
            port: i.port,
            health: healthFromProto(i.health),
            agent: i.agent_id,
            agentState: stateOf(i.agent_id),
            zone: i.zone,
            weight: i.weight,
            protocol: i.protocol || 'http',
            tags: i.tags,
            metadata: i.metadata,
          })),
        }));
        if (o.json) {
          console.log(JSON.stringify({ revision: res.revision, services }, null, 2));
          return;
        }
        if (services.length === 0) {
          console.log(`no services registered (revision ${res.revision})`);
          return;
        }
        const rows = services.flatMap((s) =>
          s.instances.map((i) => [s.name, i.id, `${i.address}:${i.port}`, i.protocol, i.health, i.agent, i.agentState, i.tags.join(',')]),
        );
        console.log(formatTable(['SERVICE', 'INSTANCE', 'ADDRESS', 'PROTOCOL', 'HEALTH', 'AGENT', 'AGENT STATE', 'TAGS'], rows));
      } finally {
        registry.close();
      }
    });
}

/**
 * The owning agent's state beside its instances: an instance's health is what
 * its agent last reported, so a dead agent's instances stay `passing` until
 * its lease lapses. `connected`, or `disconnected since <time> (8s ago),
 * removed in 12s` (its instances go when the lease ends unless it reconnects;
 * no "since" when it left before this control plane started).
 */
export function agentStates(agents: readonly AgentStatus__Output[], nowMs: number): (agentId: string) => string {
  const byId = new Map(agents.map((a) => [a.agent?.agent_id ?? '', a]));
  return (agentId) => {
    const a = byId.get(agentId);
    if (a === undefined) return 'unknown';
    if (a.revoked) return 'revoked';
    if (a.connected) return 'connected';
    const since = Number(a.disconnected_at_ms);
    const leaseEnds = Number(a.lease_expires_at_ms);
    const when =
      since > 0
        ? ` since ${new Date(since).toISOString().replace(/\.\d+Z$/, 'Z')} (${Math.max(0, Math.round((nowMs - since) / 1000))}s ago)`
        : '';
    return `disconnected${when}${leaseEnds > 0 ? `, removed in ${Math.max(0, Math.ceil((leaseEnds - nowMs) / 1000))}s` : ''}`;
  };
}
