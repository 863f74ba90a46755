import type { Command } from 'commander';
import { apiOption, fetchStats } from '../stats-client.js';
import { edgesOf, formatStats } from '../stats-format.js';

export function statCommand(program: Command): void {
  program
    .command('stat [service]')
    .description('golden metrics (request rate, success rate, p50/p99) per service, and the edges of SERVICE, over a recent window')
    .option(...apiOption)
    .option('--window <duration>', 'how far back: 10s..15m, a multiple of 10s', '1m')
    .option('--json', 'print JSON')
    .action(async (service: string | undefined, o: { api: string; window: string; json?: boolean }) => {
      const s = await fetchStats(o.api, o.window);
      if (o.json) {
        const out =
          service === undefined
            ? s
            : { ...s, services: s.services.filter((x) => x.service === service), edges: undefined, ...edgesOf(s, service) };
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      console.log(formatStats(s, service));
    });
}
