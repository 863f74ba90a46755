/** `weft get routes|policy|access|external|all [SERVICE]`: what is stored, as YAML that `weft apply` accepts back unchanged. */
import type { PolicyDocument } from '@weft/shared';
import { policyToYaml } from '@weft/shared/policy/policy-yaml';
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import { connectConfig } from './apply.js';
import { controlPlaneOption } from './services.js';

/** CLI words for document kinds ("" = every kind). */
export function kindOf(word: string): string {
  switch (word) {
    case 'routes':
    case 'Routes':
      return 'Routes';
    case 'policy':
    case 'policies':
    case 'ServicePolicy':
      return 'ServicePolicy';
    case 'access':
    case 'AccessPolicy':
      return 'AccessPolicy';
    case 'external':
    case 'externals':
    case 'ExternalService':
      return 'ExternalService';
    case 'all':
      return '';
    default:
      throw new CliError(`unknown kind ${JSON.stringify(word)}: use routes, policy, access, external or all`, 2);
  }
}

export function getCommand(program: Command): void {
  program
    .command('get')
    .description('print stored traffic policy as YAML (routes, policy, access, external or all)')
    .argument('<kind>', 'routes | policy | access | external | all')
    .argument('[service]', 'one service (default: every service)')
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .option(...controlPlaneOption)
    .action(async (kindWord: string, service: string | undefined, o: { output: string; controlPlane: string }) => {
      const kind = kindOf(kindWord);
      const client = connectConfig(o.controlPlane);
      try {
        const res = await client.get(service ?? '', kind);
        const docs = res.documents.map((d) => JSON.parse(d.json) as PolicyDocument);
        if (docs.length === 0) {
          if (service) throw new CliError(`no ${kindWord} stored for "${service}"`, 1);
          console.error(`# nothing stored (revision ${res.revision})`);
          return;
        }
        if (o.output === 'json') console.log(JSON.stringify(docs, null, 2));
        else process.stdout.write(policyToYaml(docs));
      } finally {
        client.close();
      }
    });
}
