/** `weft history [SERVICE]`: config revisions, newest first, with what each changed. */
import type { Command } from 'commander';
import { formatTable } from '../table.js';
import { connectConfig } from './apply.js';
import { controlPlaneOption } from './services.js';

export function historyCommand(program: Command): void {
  program
    .command('history')
    .description('config revisions (apply, delete, rollback), newest first')
    .argument('[service]', 'only revisions that changed this service')
    .option('--limit <n>', 'how many revisions', '20')
    .option('--json', 'print JSON')
    .option(...controlPlaneOption)
    .action(async (service: string | undefined, o: { limit: string; json?: boolean; controlPlane: string }) => {
      const client = connectConfig(o.controlPlane);
      try {
        const res = await client.history(service ?? '', Number(o.limit) || 20);
        if (o.json) return console.log(JSON.stringify(res, null, 2));
        console.log(`current config revision ${res.revision}`);
        const rows = res.revisions.map((r) => [
          r.revision,
          r.applied_at,
          r.description,
          r.changes.map((c) => `${c.action} ${c.kind} ${c.service}`).join(', '),
        ]);
        if (rows.length) console.log(formatTable(['REVISION', 'APPLIED AT', 'WHAT', 'CHANGES'], rows));
      } finally {
        client.close();
      }
    });
}
