/** `weft delete routes|policy|access|all SERVICE`: removes stored policy (one revision); agents fall back to defaults. */
import type { Command } from 'commander';
import { connectConfig, printResult } from './apply.js';
import { kindOf } from './get.js';
import { controlPlaneOption } from './services.js';

export function deleteCommand(program: Command): void {
  program
    .command('delete')
    .description('delete stored traffic policy of a service (routes, policy, access, external or all)')
    .argument('<kind>', 'routes | policy | access | external | all')
    .argument('<service>')
    .option('--dry-run', 'print what would be deleted')
    .option(...controlPlaneOption)
    .action(async (kindWord: string, service: string, o: { dryRun?: boolean; controlPlane: string }) => {
      const client = connectConfig(o.controlPlane);
      try {
        printResult(await client.delete(service, kindOf(kindWord), o.dryRun === true), 'deleted');
      } finally {
        client.close();
      }
    });
}
