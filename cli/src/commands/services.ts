import { DefaultPorts, healthFromProto } from '@weft/shared';
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
        const res = await registry.listServices();
        const services = res.services.map((s) => ({
          name: s.name,
          version: s.version,
          instances: s.instances.map((i) => ({
            id: i.instance_id,
            address: i.address,
            port: i.port,
            health: healthFromProto(i.health),
            agent: i.agent_id,
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
          s.instances.map((i) => [s.name, i.id, `${i.address}:${i.port}`, i.protocol, i.health, i.agent, i.tags.join(',')]),
        );
        console.log(formatTable(['SERVICE', 'INSTANCE', 'ADDRESS', 'PROTOCOL', 'HEALTH', 'AGENT', 'TAGS'], rows));
      } finally {
        registry.close();
      }
    });
}
