/** `weft rollback REVISION`: makes the stored config what it was right after REVISION, as a new revision. */
import { parseDuration } from '@weft/shared';
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import { connectConfig, printResult, waitForAgents, waitOptions } from './apply.js';
import { controlPlaneOption } from './services.js';

export function rollbackCommand(program: Command): void {
  program
    .command('rollback')
    .description('restore the traffic policy as it was right after REVISION (see weft history); a new revision')
    .argument('<revision>')
    .option('--dry-run', 'print the diff only')
    .option(...waitOptions[0])
    .option(...waitOptions[1])
    .option(...controlPlaneOption)
    .action(async (revision: string, o: { dryRun?: boolean; wait?: boolean; timeout: string; controlPlane: string }) => {
      const client = connectConfig(o.controlPlane);
      try {
        const res = await client.rollback(revision, o.dryRun === true);
        printResult(res, `rolled back to ${revision}`);
        if (o.wait && !o.dryRun) {
          if (!(await waitForAgents(client, res.changes, res.revision, parseDuration(o.timeout, '--timeout')))) {
            throw new CliError('not every agent accepted the new config', 1);
          }
        }
      } finally {
        client.close();
      }
    });
}
